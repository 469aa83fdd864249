/** The options of the `bgdl()` Vite plugin. */
export interface BgdlOptions {
  /**
   * Where the prebuilt worker is served and emitted, relative to Vite's `base` (default
   * `'bgdl-sw.js'`: the page registers `/bgdl-sw.js`). Its source map goes beside it, as `<fileName>.map`.
   */
  fileName?: string;
  /**
   * The widest scope the worker may be registered with, sent as `Service-Worker-Allowed` by the
   * dev server and `vite preview`; only needed when the worker's folder is below the pages it
   * must cover. A host serving the build must send that header itself.
   */
  scope?: string;
}

/** The options with their defaults, checked. */
export interface ResolvedOptions {
  fileName: string;
  scope: string | undefined;
}

/** The default: a name of its own, so the prebuilt worker never takes the place of an app's `sw.js`. */
export const DEFAULT_FILE_NAME = 'bgdl-sw.js';

/**
 * Fills in the defaults and refuses a file name that would land outside the build's folder.
 * @throws {Error} for an empty or escaping `fileName`, or a `scope` that is not a string.
 */
export function resolveOptions(options: BgdlOptions = {}): ResolvedOptions {
  const fileName = (options.fileName ?? DEFAULT_FILE_NAME).replace(/^\/+/, '');
  if (fileName === '' || fileName.endsWith('/') || fileName.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw new Error(`bgdl(): fileName ${JSON.stringify(options.fileName)} is not a file path below the app's base, such as 'bgdl-sw.js'`);
  }
  if (options.scope !== undefined && typeof options.scope !== 'string') {
    throw new Error(`bgdl(): scope must be a path such as '/', not ${JSON.stringify(options.scope)}`);
  }
  return { fileName, scope: options.scope };
}
