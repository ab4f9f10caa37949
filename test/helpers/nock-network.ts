/**
 * The real network while nock harnesses are open. The GitHub and the Gitea harness may be open in one test (a
 * server with both forges): each closes the network to everything but loopback when it opens, and the network may
 * reopen only when the last of them closes. One count for both, so closing one never reopens the network under the
 * other.
 */
import nock from 'nock';

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;
let holders = 0;

/** Closes the network to all but loopback (the server under test, the embedded store) until every holder releases. */
export function holdNetwork(): () => void {
  if (holders++ === 0) {
    nock.disableNetConnect();
    nock.enableNetConnect((host: string) => LOOPBACK_HOST.test(host));
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) nock.enableNetConnect();
  };
}
