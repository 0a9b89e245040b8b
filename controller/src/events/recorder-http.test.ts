// The EventRecorder writing over HTTP to a real API server on 127.0.0.1.

import { httpEventSink } from './http-sink.js';
import { recorderSuite } from './recorder-suite.js';

recorderSuite('HTTP', (server) => httpEventSink({ baseUrl: server.url, token: server.apiKey }));
