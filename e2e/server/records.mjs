// @ts-check
/** What the test server records and answers: its types, and its records' first values. */

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
