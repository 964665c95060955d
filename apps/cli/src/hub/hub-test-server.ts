import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** A request the test Hub saw (method, path, the Range and Authorization headers). */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
}

export interface TestHub {
  readonly url: string;
  readonly requests: SeenRequest[];
  /** The next full download of `path` is cut after this many bytes (the connection is destroyed). */
  cutNext(path: string, bytes: number): void;
  close(): Promise<void>;
}

/**
 * For tests: an HTTP server on 127.0.0.1 that serves a model folder the way huggingface.co does for
 * @huggingface/hub — /api/models/<id>/revision/<rev> (the commit), /api/models/<id>/tree/<rev> (files with
 * git blob ids, and LFS sha256 for *.safetensors and *.bin), /<id>/resolve/<rev>/<path> with ETag and
 * HTTP range requests (206 + Content-Range) — for one repository at one commit ("main" names it). With
 * `token`, every request must carry `Authorization: Bearer <token>` (else 401, as for a gated model).
 */
export async function startTestHub(options: {
  repoId: string;
  folder: string;
  commit: string;
  /** Extra files served besides the folder's (e.g. ones lorakit must not download). */
  extra?: Record<string, string>;
  token?: string;
}): Promise<TestHub> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(options.folder)) files.set(name, readFileSync(join(options.folder, name)));
  for (const [name, text] of Object.entries(options.extra ?? {})) files.set(name, Buffer.from(text));
  const requests: SeenRequest[] = [];
  const cuts = new Map<string, number>();
  const isLfs = (path: string) => /\.(safetensors|bin)$/.test(path);
  const sha = (algorithm: string, ...parts: (string | Buffer)[]) => {
    const hash = createHash(algorithm);
    for (const part of parts) hash.update(part);
    return hash.digest('hex');
  };
  const gitOid = (bytes: Buffer) => sha('sha1', `blob ${bytes.length}\0`, bytes);
  const revisionOk = (revision: string) => revision === 'main' || revision === options.commit;
  const json = (
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    requests.push({
      method: request.method ?? 'GET',
      path,
      range: request.headers.range,
      authorization: request.headers.authorization,
    });
    if (options.token && request.headers.authorization !== `Bearer ${options.token}`) {
      return json(response, 401, { error: 'Invalid credentials in Authorization header' });
    }
    const api = `/api/models/${options.repoId}/`;
    if (path.startsWith(`${api}revision/`)) {
      const revision = path.slice(`${api}revision/`.length);
      if (!revisionOk(revision)) return json(response, 404, { error: `Invalid rev id: ${revision}` });
      return json(response, 200, { _id: 'test', id: options.repoId, sha: options.commit, private: false });
    }
    if (path.startsWith(`${api}tree/`)) {
      const revision = path.slice(`${api}tree/`.length);
      if (!revisionOk(revision)) return json(response, 404, { error: `Invalid rev id: ${revision}` });
      return json(
        response,
        200,
        [...files].map(([name, bytes]) => ({
          type: 'file',
          path: name,
          size: bytes.length,
          oid: gitOid(bytes),
          ...(isLfs(name)
            ? { lfs: { oid: sha('sha256', bytes), size: bytes.length, pointerSize: 134 } }
            : {}),
        })),
      );
    }
    const resolve = path.match(new RegExp(`^/${options.repoId}/resolve/([^/]+)/(.+)$`));
    const bytes = resolve && revisionOk(resolve[1]!) ? files.get(resolve[2]!) : undefined;
    if (!resolve || !bytes) {
      response.writeHead(404, { 'x-error-code': 'EntryNotFound' });
      return response.end('Entry not found');
    }
    const name = resolve[2]!;
    const headers = {
      etag: `"${isLfs(name) ? sha('sha256', bytes) : gitOid(bytes)}"`,
      'x-repo-commit': options.commit,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    };
    const range = request.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
      response.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${bytes.length}` });
      return response.end(bytes.subarray(start, end + 1));
    }
    const cut = cuts.get(name);
    if (cut !== undefined) {
      cuts.delete(name);
      response.writeHead(200, { ...headers, 'content-length': String(bytes.length) });
      response.write(bytes.subarray(0, cut), () => setTimeout(() => response.destroy(), 20));
      return;
    }
    response.writeHead(200, { ...headers, 'content-length': String(bytes.length) });
    response.end(bytes);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutNext: (path, bytes) => cuts.set(path, bytes),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
