// memcached's accept(): a new connection is taken from the listening socket as a bare handle, the
// way memcached hands a bare fd to dispatch_conn_new. Node's own 'connection' path builds a
// net.Socket for every accept; the dispatcher then transferred that socket, which destroyed it and
// built another in the worker. Under connection churn (bench workload 5) that pair of sockets cost
// about a fifth of the server's CPU. Now the dispatcher moves the bare TCP handle (the same
// TCPWrap a socket transfer moves) and the worker drives it directly (worker/handle-io.ts).
//
// The listening handle's `onconnection` hook is Node's internal entry for accepts (net.js sets it
// on every listening handle); accept errors still go to Node's handler and the server's 'error'.

import net from 'node:net';

/** A connected libuv stream handle (TCPWrap, or PipeWrap for a unix socket). */
export type ConnHandle = { readonly __connHandle?: never };

type ListeningHandle = {
  fd?: number;
  onconnection: (this: ListeningHandle, status: number, client?: ConnHandle) => void;
  setNoDelay?(enable: boolean): number;
  setKeepAlive?(enable: boolean, initialDelaySecs: number): number;
};

function listeningHandle(server: net.Server): Partial<ListeningHandle> | null {
  return (server as unknown as { _handle: Partial<ListeningHandle> | null })._handle;
}

/** A libuv handle's descriptor (TCPWrap's and PipeWrap's fd), or -1. */
export function handleFd(handle: ConnHandle | Partial<ListeningHandle> | null): number {
  const fd = (handle as { fd?: unknown } | null)?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** The descriptor of a listening server's socket (libuv's), or -1. */
export function listeningFd(server: net.Server): number { return handleFd(listeningHandle(server)); }

/** Take every connection `server` accepts as a bare handle; call once it is listening. */
export function acceptHandles(server: net.Server, onHandle: (handle: ConnHandle) => void): void {
  const listening = listeningHandle(server);
  const nodeOnConnection = listening?.onconnection;
  if (!listening || typeof nodeOnConnection !== 'function') {
    throw new Error('cachalot: this Node gives no listening handle to accept from (net.Server._handle.onconnection)');
  }
  listening.onconnection = function onconnection(this: ListeningHandle, status: number, client?: ConnHandle): void {
    if (status !== 0 || client === undefined) { nodeOnConnection.call(this, status, client); return; }
    onHandle(client);
  };
}

/**
 * memcached's TCP options for its clients (no Nagle delay, keepalive probes), set once on the
 * listening socket as memcached sets them: every connection accepted from it inherits them, so
 * no connection costs a setsockopt.
 */
export function setClientTcpOptions(server: net.Server): void {
  const listening = listeningHandle(server);
  listening?.setNoDelay?.(true);
  listening?.setKeepAlive?.(true, 0);
}

/**
 * A net.Socket around an accepted handle, not reading: for a connection refused over -c, which is
 * answered and closed where it was accepted (rare enough for the stream's convenience).
 */
export function socketOf(handle: ConnHandle): net.Socket {
  const opts = { handle, pauseOnCreate: true, readable: true, writable: true };
  return new net.Socket(opts as unknown as net.SocketConstructorOpts);
}
