import { defineSearchAttributeKey } from '@temporalio/common';

export const RagopsStack = defineSearchAttributeKey('RagopsStack', 'KEYWORD');
export const RagopsRunbook = defineSearchAttributeKey('RagopsRunbook', 'KEYWORD');
export const RagopsPhase = defineSearchAttributeKey('RagopsPhase', 'KEYWORD');
export const RagopsService = defineSearchAttributeKey('RagopsService', 'KEYWORD');
export const RagopsImage = defineSearchAttributeKey('RagopsImage', 'KEYWORD');

/** Every attribute ragops upserts: the worker checks the namespace has them before it serves. */
export const RAGOPS_SEARCH_ATTRIBUTES = [RagopsStack, RagopsRunbook, RagopsPhase, RagopsService, RagopsImage] as const;
