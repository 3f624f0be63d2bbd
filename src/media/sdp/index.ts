/** SDP for every media engine: parse, negotiate (RFC 3264), write. */
export { parseSdp, encodingOf, type SdpMedia, type SdpSession } from './parse.ts';
export { answerOffer, createOffer, readAnswer, complementOf, isAudioCodec, SUPPORTED_CODECS, type NegotiatedAudio } from './negotiate.ts';
export { addressLine, sdpText, STATIC_PT, DEFAULT_DTMF_PT, type LocalMedia } from './write.ts';
