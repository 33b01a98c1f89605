// The binary protocol: tracker issue 7. Until it lands a binary client is hung up on.

import type { Conn } from '../../worker/conn.ts';
import { connCloseWithReason } from '../../worker/drive-machine.ts';

export function tryReadCommandBinary(c: Conn): boolean {
  connCloseWithReason(c, 'binary protocol not supported yet');
  return true;
}

export function completeNreadBinary(_c: Conn): void {}
