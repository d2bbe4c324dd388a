// The signed Colonies API as seen from the page: RPC over POST /api, subscriptions over
// WebSocket /pubsub.  Every request is signed here, with the key typed into the page.
import { envelope, idOfPrivateKey, utf8FromBase64 } from './crypto.js';

/** An error reply of the server (or a failure to reach it), with the HTTP-like status. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function decodeReply(text, httpStatus) {
  let reply;
  let value;
  try {
    reply = JSON.parse(text);
    value = JSON.parse(utf8FromBase64(reply.payload));
  } catch {
    throw new ApiError(`the server sent an unreadable reply (HTTP ${httpStatus})`, httpStatus);
  }
  if (httpStatus !== 200 || reply.error) {
    const status = httpStatus !== 200 ? httpStatus : Number(value?.status ?? 500);
    throw new ApiError(value?.message ?? String(value), status);
  }
  return value;
}

export class Api {
  /** `base` is the server's origin; the dashboard is served by the server it talks to. */
  constructor(prvkey, base = window.location.origin) {
    this.prvkey = prvkey;
    this.id = idOfPrivateKey(prvkey);
    this.base = base;
  }

  /** Send one signed message; the reply's value, or an ApiError with the server's words. */
  async rpc(msgtype, fields = {}) {
    let response;
    try {
      response = await fetch(`${this.base}/api`, {
        method: 'POST',
        body: envelope({ msgtype, ...fields }, this.prvkey),
      });
    } catch (err) {
      throw new ApiError(`cannot reach the server: ${err.message}`, 0);
    }
    return decodeReply(await response.text(), response.status);
  }

  /**
   * Open a subscription; `onProcess(process)` for every pushed process, `onEnd(error|null)`
   * once the socket closes (timeout, error frame or network).  Returns a function that
   * cancels it.
   */
  subscribe(msg, onProcess, onEnd) {
    const url = this.base.replace(/^http/, 'ws') + '/pubsub';
    const socket = new WebSocket(url);
    let error = null;
    let cancelled = false;
    socket.onopen = () => socket.send(envelope(msg, this.prvkey));
    socket.onmessage = (event) => {
      try {
        onProcess(decodeReply(event.data, 200));
      } catch (err) {
        error = err;
      }
    };
    socket.onerror = () => {
      error = error ?? new ApiError('the live-update connection failed', 0);
    };
    socket.onclose = () => {
      if (!cancelled) onEnd(error);
    };
    return () => {
      cancelled = true;
      socket.close();
    };
  }
}
