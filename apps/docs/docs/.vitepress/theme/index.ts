import DefaultTheme from 'vitepress/theme';
import './custom.css';

// The default theme with a wider text column: the guides' code samples are the tested files, written at
// the repository's 110-column width, and the API pages are mostly tables.
export default DefaultTheme;
