/** A percent-encoded path segment, decoded; undefined when its escapes are invalid (`%zz`, a cut UTF-8 sequence). */
export const decodePathSegment = (raw: string): string | undefined => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}
