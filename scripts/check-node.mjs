// Guard: every script and test must run on the project's own Node 22 (node_modules/.bin/node),
// never on an older system Node that would half-work and fail in confusing ways.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `tenantic needs Node >= 22 but this is ${process.version}. Run it through npm (npm test, npm start), ` +
      'which puts the pinned node@22 from devDependencies first on PATH, or run `npm install` first.',
  );
  process.exit(1);
}
