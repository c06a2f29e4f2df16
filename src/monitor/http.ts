/**
 * `GET /api/alerts`: the built-in alerts firing now and the recent
 * transitions. Self-contained (no auth of its own): the API module guards
 * everything under `/api/` with its `onRequest` hook.
 */
import type { FastifyInstance } from 'fastify';
import type { Alert, AlertEvent, AlertManager } from './alerts.ts';

/** An alert as the API and the dashboard show it (times as ISO 8601). */
export function alertJson(a: Alert) {
  return {
    name: a.name,
    key: a.key,
    severity: a.severity,
    summary: a.summary,
    check: a.check,
    labels: a.labels,
    since: new Date(a.since).toISOString(),
  };
}

function eventJson(e: AlertEvent) {
  return {
    status: e.status,
    escalated: e.escalated ?? false,
    at: new Date(e.at).toISOString(),
    alert: alertJson(e.alert),
  };
}

/** Registers `GET /api/alerts` on the app. */
export function registerAlertRoutes(app: FastifyInstance, alerts: AlertManager): void {
  app.get('/api/alerts', async () => ({
    active: alerts.active().map(alertJson),
    history: alerts.history().map(eventJson),
  }));
}
