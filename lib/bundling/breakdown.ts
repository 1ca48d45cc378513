// Infrastructure: where a bundle's bytes come from, per npm package, read from esbuild's metafile.
import type { Metafile } from 'esbuild';

/** Inputs outside node_modules: our own modules (functions/…). */
export const OWN_CODE = '(own code)';

/** The npm package an input path of the metafile belongs to (the innermost node_modules wins). */
export const packageOf = (input: string): string => {
  const marker = 'node_modules/';
  const at = input.lastIndexOf(marker);
  if (at === -1) return OWN_CODE;
  const [scope, name] = input.slice(at + marker.length).split('/');
  return scope?.startsWith('@') ? `${scope}/${name}` : (scope ?? input);
};

/** The AWS SDK and the libraries it alone pulls in. */
const SDK_FAMILY =
  /^(@aws-sdk\/|@smithy\/|@aws-crypto\/|@aws\/lambda-invoke-store$|fast-xml-parser$|strnum$|bowser$|tslib$)/;

/** Powertools for AWS Lambda and what its Tracer alone pulls in (the X-Ray SDK and its helpers). */
const POWERTOOLS_FAMILY =
  /^(@aws-lambda-powertools\/|aws-xray-sdk-core$|cls-hooked$|async-hook-jl$|emitter-listener$|shimmer$|stack-chain$|atomic-batcher$|semver$)/;

export const AWS_SDK = 'AWS SDK';
export const POWERTOOLS = 'Powertools';

/** A coarser grouping for budgets: the SDK as one family, Powertools as another, other packages by name. */
export const familyOf = (pkg: string): string => {
  if (SDK_FAMILY.test(pkg)) return AWS_SDK;
  return POWERTOOLS_FAMILY.test(pkg) ? POWERTOOLS : pkg;
};

export interface PackageShare {
  readonly name: string;
  /** Bytes this package contributes to the minified output. */
  readonly bytes: number;
}

/**
 * Bytes in the output per package (or per `group` of packages), largest first.
 *
 * @example
 * bundleBreakdown(metafile); // [{ name: 'zod', bytes: 193_536 }, { name: '@aws-sdk/client-dynamodb', … }, …]
 * bundleBreakdown(metafile, familyOf); // [{ name: 'AWS SDK', bytes: 342_016 }, …]
 */
export const bundleBreakdown = (
  metafile: Metafile,
  group: (pkg: string) => string = (pkg) => pkg,
): PackageShare[] => {
  const totals = new Map<string, number>();
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = group(packageOf(input));
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...totals]
    .map(([name, bytes]) => ({ name, bytes }))
    .filter((share) => share.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
};

/** Every input module of the bundle that contributes bytes (paths relative to the repository root). */
export const bundledInputs = (metafile: Metafile): string[] =>
  Object.entries(metafile.outputs)
    .filter(([file]) => !file.endsWith('.map'))
    .flatMap(([, output]) =>
      Object.entries(output.inputs)
        .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
        .map(([input]) => input),
    );
