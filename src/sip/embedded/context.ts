/**
 * What call legs get from the adapter: everything a dialog session gets (leg-context.ts,
 * dialog-session.ts), and the registration of the dialogs they create.
 */
import type { DialogSession, SessionContext } from './dialog-session.ts';

export interface StackContext extends SessionContext {
  registerDialog(session: DialogSession): void;
}
