/**
 * The links' half of every way back (the rollback after a failed verification, its resumption by
 * recovery, the boot-check after a crash loop): re-verify the sealed release being returned to, then
 * point `current` at it and `previous` where the caller says. Written once so no way back can skip
 * the verification.
 */
import { crashPoint } from '../platform/crashpoint.js';
import type { Layout } from '../store/layout.js';
import { pointLink, removeLink } from '../store/links.js';
import { checkReleaseFast } from '../store/release.js';

export async function flipBack(layout: Layout, links: { current: string; previous: string | null }): Promise<void> {
  await checkReleaseFast(layout, links.current);
  await pointLink(layout, 'current', links.current);
  crashPoint('flip-back:current-flipped');
  if (links.previous) await pointLink(layout, 'previous', links.previous);
  else await removeLink(layout, 'previous');
}
