// memcached's reply strings, byte for byte, built once at module load.

const r = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The two bytes that end a line, and a stored value. */
export const CRLF = r('\r\n');

export const REPLY = {
  STORED: r('STORED\r\n'),
  NOT_STORED: r('NOT_STORED\r\n'),
  EXISTS: r('EXISTS\r\n'),
  NOT_FOUND: r('NOT_FOUND\r\n'),
  DELETED: r('DELETED\r\n'),
  TOUCHED: r('TOUCHED\r\n'),
  END: r('END\r\n'),
  OK: r('OK\r\n'),
  RESET: r('RESET\r\n'),
  ERROR: r('ERROR\r\n'),
  VALUE_SP: r('VALUE '),
  STAT_SP: r('STAT '),
  VERSION_SP: r('VERSION '),
  CLIENT_ERROR_BAD_FORMAT: r('CLIENT_ERROR bad command line format\r\n'),
  CLIENT_ERROR_BAD_CHUNK: r('CLIENT_ERROR bad data chunk\r\n'),
  CLIENT_ERROR_EXPTIME: r('CLIENT_ERROR invalid exptime argument\r\n'),
  CLIENT_ERROR_DELTA: r('CLIENT_ERROR invalid numeric delta argument\r\n'),
  CLIENT_ERROR_NON_NUMERIC: r('CLIENT_ERROR cannot increment or decrement non-numeric value\r\n'),
  CLIENT_ERROR_DELETE_USAGE: r('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n'),
  CLIENT_ERROR_STATS_DETAIL: r('CLIENT_ERROR usage: stats detail on|off|dump\r\n'),
  CLIENT_ERROR_SLABS_REASSIGN: r('CLIENT_ERROR bad command line format\r\n'),
  SERVER_ERROR_TOO_LARGE: r('SERVER_ERROR object too large for cache\r\n'),
  SERVER_ERROR_NO_MEMORY: r('SERVER_ERROR out of memory storing object\r\n'),
  SERVER_ERROR_NO_MEMORY_IN_READ: r('SERVER_ERROR Out of memory during read\r\n'),
  SERVER_ERROR_GET_NO_MEMORY: r('SERVER_ERROR out of memory writing get response\r\n'),
  SERVER_ERROR_DELTA_NO_MEMORY: r('SERVER_ERROR out of memory\r\n'),
  ERROR_SHUTDOWN_DISABLED: r('ERROR: shutdown not enabled\r\n'),
  ERROR_TOO_MANY_CONNS: r('ERROR Too many open connections\r\n'),
  MEMLIMIT_TOO_SMALL: r('MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n'),
} as const;
