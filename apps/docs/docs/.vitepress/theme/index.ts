import DefaultTheme from 'vitepress/theme';
import './custom.css';

// The default theme, with framed figures and tables and code that stay readable on phones.
export default DefaultTheme;
