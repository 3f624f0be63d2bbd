/** The auditor's pages (filled in later). */
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.ts';

export function registerUiRoutes(_app: FastifyInstance, _ctx: HttpContext): void {}
