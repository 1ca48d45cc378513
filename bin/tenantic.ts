// CDK entry point: `npx cdk synth -c stage=NAME` (default `dev`).
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';

// The CLI passes context (stage, bundling-stacks, ...) through CDK_CONTEXT_JSON; a throwaway App reads it.
const stage = String(new App().node.tryGetContext('stage') ?? 'dev');
buildApp({ stage });
