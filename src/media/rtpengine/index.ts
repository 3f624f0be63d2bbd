/** The rtpengine media engine and its ng control protocol client. */
export { RtpengineMediaEngine, type RtpengineEngineOptions, PEER_TAG, OUR_TAG } from './rtpengine-engine.ts';
export { NgClient, type NgClientOptions } from './ng-client.ts';
export { ngAnswer, ngDelete, ngOffer, ngPing, ngPlayDtmf, ngPlayMedia, ngQuery, ngStopMedia } from './ng-commands.ts';
export { parseRtpengineConfig, RTPENGINE_DEFAULTS, type RtpengineConfig } from './rtpengine-config.ts';
