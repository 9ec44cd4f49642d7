import { defineSearchAttributeKey } from '@temporalio/common';

export const RagopsStack = defineSearchAttributeKey('RagopsStack', 'KEYWORD');
export const RagopsRunbook = defineSearchAttributeKey('RagopsRunbook', 'KEYWORD');
export const RagopsPhase = defineSearchAttributeKey('RagopsPhase', 'KEYWORD');
export const RagopsService = defineSearchAttributeKey('RagopsService', 'KEYWORD');
export const RagopsImage = defineSearchAttributeKey('RagopsImage', 'KEYWORD');
