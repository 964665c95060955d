import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Application, Converter, ReflectionKind } from 'typedoc';
import { apiPackages } from './packages.js';
import { docsPackageRoot, generated, siteRoot } from './paths.js';

/**
 * The API reference: one TypeDoc run over every published package's `src/index.ts` in a single TypeScript
 * program (workspace imports resolve to sources through the `@lorakit/source` condition), so a type from
 * another package links to its page. Markdown pages go to docs/api/<folder>/, plus typedoc-sidebar.json.
 */
export async function generateApiReference(): Promise<{ pages: number; packages: string[] }> {
  const packages = apiPackages();
  rmSync(generated.api, { recursive: true, force: true });
  mkdirSync(generated.scratch, { recursive: true });
  const tsconfig = join(generated.scratch, 'tsconfig.typedoc.json');
  writeFileSync(
    tsconfig,
    JSON.stringify(
      {
        extends: relative(
          generated.scratch,
          join(docsPackageRoot, 'node_modules/@lorakit/tsconfig/base.json'),
        ),
        files: packages.map((entry) => relative(generated.scratch, entry.entry)),
      },
      null,
      2,
    ),
  );
  const app = await Application.bootstrapWithPlugins({
    entryPoints: packages.map((entry) => entry.entry),
    entryPointStrategy: 'resolve',
    tsconfig,
    plugin: ['typedoc-plugin-markdown', 'typedoc-vitepress-theme'],
    out: generated.api,
    docsRoot: siteRoot,
    name: 'lorakit',
    readme: 'none',
    excludePrivate: true,
    excludeProtected: true,
    excludeInternal: true,
    excludeExternals: true,
    // Type errors are the packages' own CI's business; the reference must still build while one is open.
    skipErrorChecking: true,
    disableSources: true,
    hideGenerator: true,
    logLevel: 'Warn',
    validation: { notExported: false, invalidLink: true, rewrittenLink: false },
    sort: ['kind', 'alphabetical'],
    // Keep packages in dependency order (safetensors → tensor → … → plugins), as given.
    sortEntryPoints: false,
    // typedoc-plugin-markdown
    entryFileName: 'index',
    // Classes and interfaces get pages of their own; functions, variables and type aliases are sections of
    // their package's page (about 250 pages instead of 600: the build and the browser test stay fast).
    router: 'member',
    membersWithOwnFile: ['Class', 'Interface', 'Enum'],
    tableColumnSettings: { hideDefaults: true, hideModifiers: true, hideSources: true },
    excludeScopesInPaths: true,
    hidePageHeader: true,
    hideBreadcrumbs: false,
    useCodeBlocks: true,
    parametersFormat: 'table',
    interfacePropertiesFormat: 'table',
    classPropertiesFormat: 'table',
    typeDeclarationFormat: 'table',
    propertyMembersFormat: 'table',
    enumMembersFormat: 'table',
    // typedoc-vitepress-theme
    sidebar: { autoConfiguration: true, format: 'vitepress', pretty: false, collapsed: true },
  } as never);

  // Name each module after its npm package rather than its path (TypeDoc would say `lora/src`).
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const match = packages.find(
        (entry) => module.name === `${entry.folder}/src` || module.name === entry.folder,
      );
      if (match) module.name = match.name;
    }
  });

  const project = await app.convert();
  if (!project) throw new Error('[docs] TypeDoc could not convert the packages (see the messages above)');
  await app.generateOutputs(project);
  if (app.logger.hasErrors()) throw new Error('[docs] TypeDoc reported errors (see the messages above)');
  alignFragments(generated.api);
  return {
    pages: project.getReflectionsByKind(ReflectionKind.All).length,
    packages: project.getChildrenByKind(ReflectionKind.Module).map((module) => module.name),
  };
}

/**
 * TypeDoc links to a heading such as `FIELD_KEYS` as `#field_keys` from other pages but `#field-keys` on
 * the same page; VitePress's slug is `field-keys`. Rewrites every link fragment to VitePress's form.
 */
function alignFragments(dir: string): void {
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.md')) continue;
    const path = join(entry.parentPath, entry.name);
    const text = readFileSync(path, 'utf8');
    const aligned = text.replace(
      /\]\(([^)#\s]*)#([^)\s]+)\)/g,
      (_, target: string, fragment: string) => `](${target}#${fragment.replace(/_+/g, '-')})`,
    );
    if (aligned !== text) writeFileSync(path, aligned);
  }
}
