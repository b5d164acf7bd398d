/** Envoy's host health meanings, as the node machine reports them. */
export type Health = "healthy" | "degraded" | "excluded" | "recovering"
