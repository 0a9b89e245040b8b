// The EventRecorder writing in-process, through the API server's write path.

import { recorderSuite } from './recorder-suite.js';
import { storeEventSink } from './sink.js';

recorderSuite('the store', (server) => storeEventSink(server.store));
