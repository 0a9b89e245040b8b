// The in-process EventSink (the API server's write path over the store) against the conformance suite.

import { sinkConformance } from './sink-conformance.js';
import { storeEventSink } from './sink.js';

sinkConformance('store', (server) => storeEventSink(server.store));
