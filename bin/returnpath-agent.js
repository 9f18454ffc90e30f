#!/usr/bin/env node
import { agentMain } from '../dist/lib/cluster/agent-cli.js';

process.exit(await agentMain(process.argv.slice(2)));
