/** Human labels for the API's actions and options. The lists themselves come from shared/contract.ts. */
import { ACTIONS, PLATFORMS, TONES, type Action, type Platform, type Tone } from '../../shared/contract';

export const ACTION_LABELS: Record<Action, string> = {
  rewrite: 'Rewrite',
  shorten: 'Shorten',
  expand: 'Expand',
  tone: 'Tone',
  product_description: 'Product description',
  social_post: 'Social post',
};

export const TONE_LABELS: Record<Tone, string> = {
  professional: 'Professional',
  casual: 'Casual',
  friendly: 'Friendly',
  persuasive: 'Persuasive',
  confident: 'Confident',
};

export const PLATFORM_LABELS: Record<Platform, string> = {
  x: 'X',
  linkedin: 'LinkedIn',
  instagram: 'Instagram',
  facebook: 'Facebook',
};

export { ACTIONS, PLATFORMS, TONES };

export const actionLabel = (action: string): string => (ACTION_LABELS as Record<string, string>)[action] ?? action;
