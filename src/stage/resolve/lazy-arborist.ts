/**
 * Arborist loads its query language (`Node#querySelectorAll`: @npmcli/query and postcss-selector-parser,
 * ~25 ms here) when it loads; building an ideal tree never queries it. Loaded on first use instead
 * (platform/lazy-require.ts); imported before arborist.
 */
import { deferModule, resolveFrom } from '../../platform/lazy-require.js';

/** The file arborist's node.js requires as './query-selector-all.js', when arborist is there. */
export const querySelectorAllFile = resolveFrom('@npmcli/arborist', './query-selector-all.js');

if (querySelectorAllFile) deferModule(querySelectorAllFile, 'function');
