export * from './token-bucket.js';
export * from './ip-limiter.js';
export * from './message-budget.js';
