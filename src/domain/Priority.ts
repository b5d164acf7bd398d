/** Request priority: 1 (batch) … 10 (most urgent); 5 when not given. */
export type Priority = number

export const MIN_PRIORITY = 1
export const MAX_PRIORITY = 10
export const DEFAULT_PRIORITY = 5

/** Parses a header or body value; `undefined` when absent, `null` when present but invalid. */
export const parsePriority = (value: unknown): Priority | undefined | null => {
  if (value === undefined || value === null || value === "") return undefined
  const n = typeof value === "number" ? value : typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN
  return Number.isInteger(n) && n >= MIN_PRIORITY && n <= MAX_PRIORITY ? n : null
}
