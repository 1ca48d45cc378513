// CDK entry point: `npx cdk synth -c stage=NAME` (default `dev`); everything else lives in lib/app.ts.
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';

// The CLI hands its context (stage, bundling-stacks, ...) over in CDK_CONTEXT_JSON; an App that never
// synthesizes reads it, so the stage is known before the real app is built.
const stage = String(new App({ autoSynth: false }).node.tryGetContext('stage') ?? 'dev');
buildApp({ stage });
