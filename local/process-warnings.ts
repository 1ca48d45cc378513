// Local platform: keeps the terminal readable. fauxqs loads node:sqlite, whose ExperimentalWarning says
// nothing actionable to a developer running the platform; every other warning still prints.

/**
 * Drops ExperimentalWarnings and keeps Node's default printing for the rest.
 *
 * @example
 * silenceExperimentalWarnings(); // first thing in a CLI entry point
 */
export const silenceExperimentalWarnings = (): void => {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'ExperimentalWarning') return;
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
  });
};
