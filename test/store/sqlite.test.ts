/** The SQLite store with commits on the main thread (the default): conformance and file behaviour. */
import { sqliteStoreCases } from './sqlite-cases.ts';

sqliteStoreCases('sqlite', {});
