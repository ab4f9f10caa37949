/**
 * The GitHub App's slug (its comments are `<slug>[bot]`'s): APP_SLUG, or read from GitHub in the background.
 */
import type { Logger } from 'pino';
import type { Probot } from 'probot';

/** Pauses between attempts to read the app's slug: doubling from `firstMs` up to `maxMs`. */
export interface AppSlugRetry {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** The app's slug (its comments are `<slug>[bot]`'s), once known. */
export interface AppSlug {
  current(): string | undefined;
  /** Resolves once known; rejects when stopped before. */
  readonly known: Promise<string>;
  stop(): void;
}

const DEFAULT_SLUG_RETRY: AppSlugRetry = { firstMs: 1000, maxMs: 5 * 60_000 };

/**
 * APP_SLUG, or `GET /app` in the background, retried with backoff until GitHub answers. The server must not wait
 * for it: offline or with GitHub down, Probot's retries made the first request take 20 s and more, during which the
 * server was not listening and its health check failed. Forges that need the slug (the sticky comment is found by
 * its author, `<slug>[bot]`) wait for `known`.
 */
export function watchAppSlug(
  probot: Probot,
  logger: Logger,
  opts: { readonly fixed?: string; readonly retry?: AppSlugRetry } = {},
): AppSlug {
  if (opts.fixed !== undefined) {
    const slug = opts.fixed;
    return { current: () => slug, known: Promise.resolve(slug), stop: () => undefined };
  }
  const retry = opts.retry ?? DEFAULT_SLUG_RETRY;
  let slug: string | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let fail: (error: Error) => void = () => undefined;
  const known = new Promise<string>((resolve, reject) => {
    fail = reject;
    const attempt = async (pauseMs: number): Promise<void> => {
      try {
        const app = await probot.auth();
        const { data } = await app.rest.apps.getAuthenticated();
        if (!data?.slug) throw new Error('GitHub answered GET /app without a slug');
        slug = data.slug;
        logger.info({ appSlug: slug }, 'read the app slug from GitHub');
        resolve(slug);
        return;
      } catch (error) {
        if (stopped) return;
        logger.warn({ err: error, retryInMs: pauseMs }, 'cannot read the app slug yet; retrying (set APP_SLUG)');
      }
      if (stopped) return;
      timer = setTimeout(() => void attempt(Math.min(pauseMs * 2, retry.maxMs)), pauseMs);
      // A timer waiting for GitHub must not keep a finished `watchdog --once` alive.
      timer.unref();
    };
    void attempt(retry.firstMs);
  });
  // Nobody may be waiting yet; a stop before the slug is known is not an unhandled rejection.
  known.catch(() => undefined);
  return {
    current: () => slug,
    known,
    stop() {
      stopped = true;
      clearTimeout(timer);
      fail(new Error('stopped before GitHub told the app slug'));
    },
  };
}
