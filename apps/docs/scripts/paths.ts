import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** apps/docs */
export const docsPackageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The repository root. */
export const repoRoot = join(docsPackageRoot, '..', '..');
/** VitePress's root (its `srcDir`): the markdown pages. */
export const siteRoot = join(docsPackageRoot, 'docs');
/** Where generated pages and figures go; all of it is git-ignored and rebuilt by `pnpm generate`. */
export const generated = {
  api: join(siteRoot, 'api'),
  cli: join(siteRoot, 'cli'),
  figures: join(siteRoot, 'public', 'figures'),
  /** Markdown fragments pages include with `<!--@include: -->` (not pages themselves). */
  parts: join(siteRoot, 'parts', 'generated'),
  scratch: join(docsPackageRoot, '.generated'),
} as const;
