/** What every thin handler is given (its own module, so the handlers and their index import no cycle). */
export interface HandlerOptions {
  /** The app's slug: its own comments (`<slug>[bot]`) are never a request. */
  readonly appSlug: string;
  /** Epoch ms; injectable for tests. */
  readonly now: () => number;
}
