/**
 * The call-status webhooks as a once-per-cluster leader task (alone, the node runs it itself),
 * and the signing secret: `webhooks.secret`, else env VOXLEDGER_WEBHOOK_SECRET, else the file
 * `webhooks.secretFile` (generated with mode 0600 on first use; its path is logged, never the secret).
 */
import { restartable, type LeaderTask } from '../cluster/leader-tasks.ts';
import { readOrCreateSecret } from '../config/secret-file.ts';
import type { Logger } from '../log/logger.ts';
import type { WebhookConfig } from '../config/webhook-config.ts';
import { StatusWebhooks, type StatusWebhooksOptions } from './status-webhooks.ts';

export function webhookSecret(config: WebhookConfig, log: Logger): () => string {
  let secret: string | undefined = config.secret ?? process.env.VOXLEDGER_WEBHOOK_SECRET;
  return () => {
    if (secret === undefined) {
      const r = readOrCreateSecret(config.secretFile);
      log.info(r.created ? 'webhooks: generated a signing secret' : 'webhooks: signing secret read', { secretFile: config.secretFile });
      secret = r.secret;
    }
    return secret;
  };
}

export function statusWebhooksTask(options: StatusWebhooksOptions): LeaderTask & { readonly current: StatusWebhooks | undefined } {
  return restartable('status-webhooks', () => new StatusWebhooks(options), (err) => options.log.warn('status webhooks did not close cleanly', { err }));
}
