// Result codes of the store, as memcached's enums (store_item_type, delta_result_type).
// The protocol turns them into memcached's reply bytes; a miss or a full class is a result, not an exception.

declare const codeTable: unique symbol;
/**
 * A code of the table named `Table`: the number N, typed with its table's name, so that one table's code does not
 * type-check where another's is expected (DeleteResult's 1..3 would otherwise pass for StoreResult's 1..6). Types
 * only: `1 as Code<"StoreResult", 1>` runs as `1`. A code goes wherever a number does (a typed array, `&`, an
 * index); a number read back as a code (from shared memory, say) takes a cast there.
 */
export type Code<Table extends string, N extends number> = N & { readonly [codeTable]: Table };

type Op<N extends number> = Code<"StoreOp", N>;
export const StoreOp = {
  SET: 1 as Op<1>, ADD: 2 as Op<2>, REPLACE: 3 as Op<3>, APPEND: 4 as Op<4>, PREPEND: 5 as Op<5>, CAS: 6 as Op<6>,
} as const;
export type StoreOp = (typeof StoreOp)[keyof typeof StoreOp];

type Stored<N extends number> = Code<"StoreResult", N>;
export const StoreResult = {
  STORED: 1 as Stored<1>, NOT_STORED: 2 as Stored<2>, EXISTS: 3 as Stored<3>, NOT_FOUND: 4 as Stored<4>,
  TOO_LARGE: 5 as Stored<5>, NO_MEMORY: 6 as Stored<6>,
} as const;
export type StoreResult = (typeof StoreResult)[keyof typeof StoreResult];

type Deleted<N extends number> = Code<"DeleteResult", N>;
export const DeleteResult = { DELETED: 1 as Deleted<1>, NOT_FOUND: 2 as Deleted<2>, EXISTS: 3 as Deleted<3> } as const;
export type DeleteResult = (typeof DeleteResult)[keyof typeof DeleteResult];

type Delta<N extends number> = Code<"DeltaResult", N>;
export const DeltaResult = {
  OK: 1 as Delta<1>, NON_NUMERIC: 2 as Delta<2>, EOM: 3 as Delta<3>, NOT_FOUND: 4 as Delta<4>, EXISTS: 5 as Delta<5>,
} as const;
export type DeltaResult = (typeof DeltaResult)[keyof typeof DeltaResult];

/**
 * NO_MEMORY_IN_READ: a chained value's header was allocated but its chunks ran out. memcached allocates those chunks
 * as the value is read (read_into_chunked_item) and answers "Out of memory during read", leaving the old value
 * in place; NO_MEMORY (the item itself) answers "out of memory storing object", and a set drops the old value.
 */
type Alloc<N extends number> = Code<"AllocError", N>;
export const AllocError = {
  NONE: 0 as Alloc<0>, TOO_LARGE: 1 as Alloc<1>, NO_MEMORY: 2 as Alloc<2>, NO_MEMORY_IN_READ: 3 as Alloc<3>,
} as const;
export type AllocError = (typeof AllocError)[keyof typeof AllocError];
