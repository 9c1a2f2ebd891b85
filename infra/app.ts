// `npx cdk synth` / `npx cdk deploy` (cdk.json: "app": "npx tsx infra/app.ts").
// Synthesizes offline: no AWS credentials, no Docker.

import { App } from 'aws-cdk-lib';
import { buildCloudTableApp } from './cloudtable-app.js';

buildCloudTableApp(new App());
