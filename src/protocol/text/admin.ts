// The administrative text commands that tune the store while it runs: `lru`, `lru_crawler`, `extstore`,
// `watch`. Each mirrors memcached's process_*_command of the same name. (Being written.)

import type { Conn } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';

export function processLruCommand(c: Conn, _buf: Buffer, _ntokens: number): void { c.ctx.out.bytes(REPLY.ERROR); }
export function processLruCrawlerCommand(c: Conn, _buf: Buffer, _ntokens: number): void { c.ctx.out.bytes(REPLY.ERROR); }
export function processExtstoreCommand(c: Conn, _buf: Buffer, _ntokens: number): void { c.ctx.out.bytes(REPLY.ERROR); }
export function processWatchCommand(c: Conn, _buf: Buffer, _ntokens: number): void { c.ctx.out.bytes(REPLY.ERROR); }
