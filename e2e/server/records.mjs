// @ts-check
/** What the test server records: its types, and the records of a running server. */
import { headerString } from './http.mjs';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse<IncomingMessage>} ServerResponse */
/** @typedef {import('node:http').Server} Server */

/**
 * @typedef {object} LogEntry
 * @property {string} method
 * @property {string | null} range    Range request header, if any.
 * @property {string | null} ifRange  If-Range request header, if any.
 * @property {number} status          Status code sent (0 until headers are sent).
 * @property {number} bytesSent       Body bytes written to the socket for this response.
 * @property {number} t               Date.now() when the request arrived.
 * @property {number} [end]           Date.now() when the response ended (sent whole or cut off).
 * @property {{ method: string | null, headers: string | null }} [preflight]  An OPTIONS: what it asked to send.
 * @property {string | null} [authorization]  The Authorization request header, if any.
 * @property {string | null} [app]            The X-App request header, if any (a test's own).
 * @property {string} [url]                   The path and query asked.
 */

/**
 * @typedef {object} UploadRecord
 * @property {number} size
 * @property {string} sha256
 * @property {string | null} contentType
 */

/**
 * @typedef {object} IdStats
 * @property {number} requests
 * @property {number} bytesSent
 * @property {number} completed
 * @property {number} version
 * @property {LogEntry[]} log
 * @property {UploadRecord[]} uploads
 */

/**
 * A gate (`gate=NAME`): the responses that reach it wait until it is released.
 * @typedef {object} Gate
 * @property {boolean} released
 * @property {Promise<void>} opened  Resolves on release.
 * @property {() => void} open
 * @property {number} reached        Responses that came to the gate, released or not.
 * @property {number} held           Responses waiting at the gate now.
 */

/**
 * @typedef {object} StartOptions
 * @property {number} [port]       0 = pick a free port.
 * @property {string} [host]
 * @property {string} [staticDir]  Defaults to `dist/demo` relative to process.cwd().
 */

/**
 * @typedef {object} RunningServer
 * @property {Server} server
 * @property {number} port
 * @property {string} url          e.g. `http://127.0.0.1:8080/`
 * @property {() => Promise<void>} close
 */

/** @returns {Gate} */
export function newGate() {
  /** @type {() => void} */
  let open = () => {};
  const opened = new Promise((resolve) => (open = () => resolve(undefined)));
  const gate = { released: false, opened, open: () => ((gate.released = true), open()), reached: 0, held: 0 };
  return gate;
}

/** @returns {IdStats} */
export function emptyStats() {
  return { requests: 0, bytesSent: 0, completed: 0, version: 1, log: [], uploads: [] };
}

/**
 * A running server's records: each file's stats and log, the gates (`gate=NAME`) and the
 * tokens (`token=NAME`) with their current values.
 */
export class ServerRecords {
  /** Per-id stats (and content versions). @type {Map<string, IdStats>} */
  stats = new Map();
  /** Gates by name. @type {Map<string, Gate>} */
  gates = new Map();
  /** The value each token has now. @type {Map<string, string>} */
  tokens = new Map();

  /** @param {string} name */
  gateFor(name) {
    let gate = this.gates.get(name);
    if (!gate) this.gates.set(name, (gate = newGate()));
    return gate;
  }

  /** @param {string} id */
  statsFor(id) {
    let s = this.stats.get(id);
    if (!s) this.stats.set(id, (s = emptyStats()));
    return s;
  }

  /**
   * Records a new request for `id` and returns its stats and log entry.
   * @param {string} id
   * @param {IncomingMessage} req
   * @param {number} t
   */
  recordRequest(id, req, t) {
    const s = this.statsFor(id);
    s.requests++;
    /** @type {LogEntry} */
    const entry = {
      method: req.method ?? 'GET',
      range: req.headers.range ?? null,
      ifRange: headerString(req.headers['if-range']),
      status: 0,
      bytesSent: 0,
      t,
      authorization: headerString(req.headers.authorization),
      app: headerString(req.headers['x-app']),
      url: req.url,
    };
    s.log.push(entry);
    return { s, entry };
  }

  /**
   * Logs a preflight (`OPTIONS`) for `id`: it is not one of the file's `requests`, so `times`
   * and `changeEvery` count as without it.
   * @param {string} id
   * @param {IncomingMessage} req
   * @param {number} t
   * @param {number} status
   */
  logPreflight(id, req, t, status) {
    const method = headerString(req.headers['access-control-request-method']);
    const headers = headerString(req.headers['access-control-request-headers']);
    this.statsFor(id).log.push({ method: 'OPTIONS', range: null, ifRange: null, status, bytesSent: 0, t, end: t, preflight: { method, headers } });
  }

  /** Forgets every file, token and gate (a gate held is released). */
  reset() {
    this.stats.clear();
    this.tokens.clear();
    for (const gate of this.gates.values()) gate.open();
    this.gates.clear();
  }
}
