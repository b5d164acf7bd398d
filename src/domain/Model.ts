/** Model names as Ollama resolves them: case-insensitive, `:latest` when no tag is given. */

/**
 * `Llama3.2` → `llama3.2:latest`, `library/qwen:7b` → `qwen:7b`. A tag is the part after the last `:` that
 * follows the last `/` (a registry host may carry a port).
 */
export const normalizeModel = (name: string): string => {
  let n = name.trim().toLowerCase()
  for (const prefix of ["registry.ollama.ai/library/", "library/"]) {
    if (n.startsWith(prefix)) n = n.slice(prefix.length)
  }
  const slash = n.lastIndexOf("/")
  const colon = n.lastIndexOf(":")
  return colon > slash ? n : `${n}:latest`
}
