// Result codes of the store, as memcached's enums (store_item_type, delta_result_type).
// The protocol turns them into memcached's reply bytes; a miss or a full class is a result, not an exception.

export const StoreOp = { SET: 1, ADD: 2, REPLACE: 3, APPEND: 4, PREPEND: 5, CAS: 6 } as const;
export type StoreOp = (typeof StoreOp)[keyof typeof StoreOp];

export const StoreResult = { STORED: 1, NOT_STORED: 2, EXISTS: 3, NOT_FOUND: 4, TOO_LARGE: 5, NO_MEMORY: 6 } as const;
export type StoreResult = (typeof StoreResult)[keyof typeof StoreResult];

export const DeleteResult = { DELETED: 1, NOT_FOUND: 2, EXISTS: 3 } as const;
export type DeleteResult = (typeof DeleteResult)[keyof typeof DeleteResult];

export const DeltaResult = { OK: 1, NON_NUMERIC: 2, EOM: 3, NOT_FOUND: 4, EXISTS: 5 } as const;
export type DeltaResult = (typeof DeltaResult)[keyof typeof DeltaResult];

/**
 * NO_MEMORY_IN_READ: a chained value's header was allocated but its chunks ran out. memcached allocates those chunks
 * as the value is read (read_into_chunked_item) and answers "Out of memory during read", leaving the old value
 * in place; NO_MEMORY (the item itself) answers "out of memory storing object", and a set drops the old value.
 */
export const AllocError = { NONE: 0, TOO_LARGE: 1, NO_MEMORY: 2, NO_MEMORY_IN_READ: 3 } as const;
export type AllocError = (typeof AllocError)[keyof typeof AllocError];
