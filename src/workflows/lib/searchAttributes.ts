import { defineSearchAttributeKey } from '@temporalio/common';

export const RagopsStack = defineSearchAttributeKey('RagopsStack', 'KEYWORD');
export const RagopsRunbook = defineSearchAttributeKey('RagopsRunbook', 'KEYWORD');
export const RagopsPhase = defineSearchAttributeKey('RagopsPhase', 'KEYWORD');
