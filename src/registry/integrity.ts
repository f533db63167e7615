/** Subresource integrity strings (npm's `integrity`), read as ssri matches them. */

/** The digests of the strongest algorithm an SRI string names (as ssri matches), or undefined. */
export function strongestHashes(integrity: string): { algorithm: string; digests: string[] } | undefined {
  const parsed = integrity
    .trim()
    .split(/\s+/)
    .map((token) => /^(sha512|sha384|sha256|sha1)-([A-Za-z0-9+/]+=*)(\?.*)?$/.exec(token))
    .filter((match): match is RegExpExecArray => match !== null);
  for (const algorithm of ['sha512', 'sha384', 'sha256', 'sha1']) {
    const digests = parsed.filter((match) => match[1] === algorithm).map((match) => match[2]!);
    if (digests.length > 0) return { algorithm, digests };
  }
  return undefined;
}
