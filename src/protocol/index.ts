/** The Pusher protocol: pure functions for frames, channels, signatures and errors. */
export { CloseCode, WsCloseCode, MIN_PROTOCOL_VERSION, MAX_PROTOCOL_VERSION } from './codes.js';
export {
  ErrorCode,
  errorCatalogue,
  SwitchboardError,
  isErrorCode,
  type ErrorCodeName,
  type ErrorCatalogueEntry,
} from './errors.js';
export {
  classifyChannel,
  userIdFromUserChannel,
  userChannelName,
  isValidUserId,
  MAX_CHANNEL_NAME_LENGTH,
  MAX_USER_ID_LENGTH,
  MAX_USER_CHANNEL_NAME_LENGTH,
  USER_CHANNEL_PREFIX,
  type ChannelType,
  type ChannelKind,
} from './channels.js';
export * from './frames.js';
export {
  hmacSha256Hex,
  safeEqual,
  signChannelAuth,
  verifyChannelAuth,
  signUserAuth,
  verifyUserAuth,
  parsePresenceChannelData,
  parseUserData,
  verifyApiSignature,
  signApiRequest,
  apiStringToSign,
  webhookSignature,
  md5Hex,
  MAX_WATCHLIST_LENGTH,
  API_AUTH_VERSION,
  type AppCredentials,
  type ApiRequestParts,
  type ApiSignatureResult,
  type PresenceDataResult,
  type UserDataResult,
} from './signatures.js';
export { createSocketId } from './socket-id.js';
