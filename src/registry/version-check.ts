/**
 * A registry's answer is checked before its version becomes a path or a record: the manifest's
 * version is exact semver (see store/layout.ts validVersion), it is the version the spec asked for
 * (an exact version is that version; a dist-tag is what the registry's dist-tags say), and it is the
 * packument's own key for that manifest (a `versions["2.0.0"]` that says 2.0.1 is refused).
 */
import type { Packument, PacoteManifest, ParsedSpec } from '../model/npm-types.js';
import semver from 'semver';
import { ReleaseSwitcherError } from '../model/errors.js';
import { validVersion } from '../store/layout.js';

export interface VersionCheckInput {
  parsed: ParsedSpec;
  manifest: PacoteManifest;
  spec: string;
  /** The packument the manifest was picked from (registry specs only). */
  packument: () => Promise<Packument>;
}

export async function checkResolvedVersion({ parsed, manifest, spec, packument }: VersionCheckInput): Promise<string> {
  const version = validVersion(manifest.version, `${spec} (as resolved)`);
  if (!['version', 'range', 'tag'].includes(parsed.type)) return version; // a tarball: its package.json is the record
  const wanted = parsed.fetchSpec ?? '';
  // What the user typed may be loose (`v2.0.0`); what the registry answers may not.
  if (parsed.type === 'version' && version !== semver.valid(wanted))
    throw mismatch(spec, version, `the spec asks for exactly ${wanted}`);
  if (parsed.type === 'range' && !semver.satisfies(version, wanted, { includePrerelease: false })) {
    throw mismatch(spec, version, `it is outside the range ${wanted}`);
  }
  const doc = await packument();
  if (parsed.type === 'tag' && doc['dist-tags']?.[wanted] !== version) {
    throw mismatch(
      spec,
      version,
      `the registry's dist-tag ${wanted} says ${JSON.stringify(doc['dist-tags']?.[wanted])}`,
    );
  }
  const entry = doc.versions?.[version];
  if (!entry || entry.version !== version || (entry.dist?.integrity ?? null) !== (manifest.dist?.integrity ?? null)) {
    throw mismatch(spec, version, `the registry's versions["${version}"] is not this manifest`);
  }
  return version;
}

function mismatch(spec: string, version: string, why: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError(
    'INVALID_VERSION',
    `The registry answered ${spec} with version ${version}, but ${why}.`,
    {
      hint: 'The registry (or something between it and you) serves inconsistent metadata; nothing was installed.',
      details: { spec, version },
    },
  );
}
