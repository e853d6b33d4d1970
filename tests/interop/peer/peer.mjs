// matrix-js-sdk (Rust crypto, i.e. what Element Web runs) as a scriptable reference peer.
//
// One process = one Matrix account/device. Driven over JSON lines:
//   stdin : {"id": n, "cmd": "...", "args": {...}}            (one request per line)
//   stdout: {"id": n, "ok": true,  "result": ...}              (one response per line)
//           {"id": n, "ok": false, "error": "message", "errcode"?: "M_...", "httpStatus"?: 4xx}
// Requests run concurrently (answers may come out of order; match them by id). Nothing but
// responses is ever written to stdout: every console.* call (the SDK's logger uses console) goes
// to stderr, or to the file named by $JSPEER_LOG_FILE.
// Every command has a timeout: args.timeoutMs if given, else $JSPEER_CMD_TIMEOUT_MS (default 60000).
// The process exits on {"cmd":"quit"} and on stdin EOF.
//
// Environment: JSPEER_LOG_FILE (append log here instead of stderr), JSPEER_LOG_LEVEL
// (debug|info|warn|error, default debug), JSPEER_CMD_TIMEOUT_MS, JSPEER_NAME (log prefix).
//
// Commands (args are camelCase; ids are full Matrix IDs):
//   login {homeserver, userId, password, deviceId?, deviceDisplayName?, syncTimeoutMs?}
//       -> {userId, deviceId, startupMs}. Logs in with m.login.password, Rust crypto in memory
//          (initRustCrypto({useIndexedDB:false})), starts the client and waits for the first sync.
//   bootstrapCrossSigning {password} -> {crossSigningReady, masterKey}
//       new MSK/SSK/USK (setupNewCrossSigning: true), UIA with m.login.password if the server asks.
//   bootstrapSecretStorage {setupKeyBackup=false}
//       -> {recoveryKey, keyId, keyBackupVersion|null}. New 4S key (random recovery key) made the default,
//          cross-signing private keys stored in it; if setupKeyBackup, also a new key backup version
//          (resetKeyBackup) whose key is stored in 4S.
//   crossSigningStatus -> {ready, ownDeviceVerified, masterKey, status: getCrossSigningStatus()}
//   keyBackupInfo -> {version, algorithm, count, publicKey, trusted, matchesDecryptionKey, activeVersion}
//       the server's current key backup (checkKeyBackupAndEnable, which also starts uploading to it
//       when it is trusted) and what Rust crypto thinks of it; all null when the account has none.
//   restoreKeyBackup {recoveryKey} -> {total, imported, ms}   what a new Element device does with the
//       recovery key: unlock secret storage with it, take the backup key (m.megolm_backup.v1) from there
//       (loadSessionBackupPrivateKeyFromSecretStorage, which checks it against the backup), enable the
//       backup and restore it whole (restoreKeyBackup); ms is the time the restore took.
//   deviceInfo {userId, deviceId?, refresh=true}
//       -> {exists, signedByOwner, crossSigningVerified, localVerified, devices:[ids]}
//   userIdentity {userId, refresh=true}
//       -> {known, masterKey, verified, crossSigningVerified, wasVerified, needsUserApproval}
//   createRoom {name?, encrypted=true, historyVisibility="shared", invite=[]} -> {roomId}
//       (waits until the room is synced and, if encrypted, crypto knows it. NB: `invite` here goes
//        through createRoom and shares NO history; use the `invite` command for MSC4268.)
//   setHistoryVisibility {roomId, visibility} -> {eventId}   (waits until the local state shows it)
//   send {roomId, body, msgtype="m.text"} -> {eventId}        (resolves once the server accepted it)
//   (any other content, m.mentions, files…: sendEvent, below)
//   createDm {userId} -> {roomId}   as Element's "Start chat": encrypted trusted_private_chat with
//       is_direct, the room listed in m.direct
//   directRooms {waitForRoom?, timeoutMs?} -> {direct}   this client's m.direct
//   dmInviter {roomId} -> {inviter|null}   whom js-sdk reads the invite as a DM with (is_direct)
//   markDirect {roomId, userId} -> {}   list the room in m.direct (Element does after joining a DM)
//   sendFile {roomId, dataB64, name, mimetype, msgtype="m.file", info?} -> {eventId}   a file as Element
//       sends it (encrypted in an encrypted room: AES-CTR + SHA-256 by node:crypto)
//   downloadFile {roomId, eventId} -> {dataB64, name, mimetype, msgtype, info, encrypted}   hash checked
//   pushActions {roomId, eventId} -> {notify, highlight}   js-sdk's push rules on the (decrypted) event
//   typing {roomId, typing} -> {}   typingUsers {roomId, waitFor?, waitForNone?} -> {users}
//   sendReceipt {roomId, eventId} -> {}   read receipt + read marker on the event
//   readUpTo {roomId, eventId, waitFor?} -> {users}   who has read up to the event
//   invite {roomId, userId, reason?, shareHistory=true} -> {}   client.invite: builds/uploads/sends the
//       key bundle first when the room's current history visibility is shared/world_readable (and our
//       device is cross-signed). shareHistory=false sends a bare POST /invite (no bundle at all).
//   waitForInvite {roomId, timeoutMs?} -> {inviter}
//   join {roomId} -> {inviter}  client.joinRoom: imports the inviter's bundle (now, or when it arrives).
//       inviter is who js-sdk saw inviting us; null means it had not synced an invite, so it will
//       accept no bundle (call waitForInvite first).
//   leave {roomId} -> {}
//   waitForMembership {roomId, userId, membership="join", timeoutMs?} -> {membership}
//       waits until THIS client's view of the room shows userId with that membership.
//   forceDiscardSession {roomId} -> {}
//   messages {roomId, timeoutMs?, waitForBodies?:[...], limit?, retryFailed=true}
//       -> [{eventId, sender, ts, type, encrypted, body|null, msgtype, decrypted,
//            decryptionFailureReason|null, failureMessage|null, isWithheld, forwardingUser|null,
//            shieldColour ("NONE"|"GREY"|"RED"|null), shieldReason (EventShieldReason name|null),
//            sessionId|null}], oldest first (limit: only the last N). Back-paginates to the start of the
//          room first.
//          waitForBodies: wait (until timeoutMs) for those bodies to be decrypted; never throws on
//          timeout, returns what is there.
//   rawEvent {roomId, eventId} -> the event as received from the server (wire form, still encrypted),
//       from the local timeline or /rooms/{roomId}/event/{eventId}.
//   decryptRawEvent {event, roomId?} -> one `messages` entry: decrypts an event obtained elsewhere
//       (e.g. rawEvent on the sender's peer; Synapse hides pre-join events from a room with
//       history_visibility joined, so this is how to see what a later member's crypto says of them).
//   exportRoomKeys -> {keys: [...]}      (exportRoomKeysAsJson, parsed)
//   importRoomKeys {keys} -> {}          (importRoomKeysAsJson)
//   whoami -> {userId, deviceId, curve25519, ed25519}
//   roomEncryptionInfo {roomId} -> {encrypted, historyVisibility, myMembership, members:{user: membership}}
//   toDeviceLog {types?:[...], clear=false} -> [{type, sender, content, encrypted, senderDevice, ts}]
//       every to-device message the client received (decrypted where possible), oldest first.
//       NB: rust crypto hands m.room_key to the app with session_key "" and WITHOUT the shared-history
//       flag; m.room_key_bundle comes through whole (room_id + file).
//   waitForToDevice {type, sender?, roomId?, timeoutMs?} -> the first matching toDeviceLog entry
//   waitForRoomKeyBundle {roomId, sender?, timeoutMs?} -> matching m.room_key_bundle entry (either
//       stable or io.element.msc4268 type)
//   sendCraftedBundle {roomId, userId, plaintext, url?} -> {url, requests}   the hostile inviter: encrypts
//       `plaintext` (any text, meant as a bundle file), uploads it and announces it to userId's cross-signed
//       devices through Rust crypto's shareRoomKeyBundleData (Olm, with sender_device_keys). `url` replaces
//       the uploaded file's mxc URL in the announcement (e.g. one on another server).
//   sendOlmToDevice {eventType, userId, deviceId, content} -> {sent}   Olm-encrypts ANY event for one device
//       (encryptToDeviceMessages) and sends it: e.g. a hostile m.forwarded_room_key.
//   sessionBackupPrivateKey -> {key|null, version|null}   the key backup's private key this client holds
//       (base64) and the active backup version.
//
// Emoji (SAS) verification. A flow is named by its flowId (the request's transactionId: the
// to-device transaction id, or the event id of the request in a room). Every request this peer
// sends or receives is tracked from the start; as soon as a verifier exists (we started, or the
// other side sent m.key.verification.start) the peer calls verifier.verify(), which accepts it, and
// keeps the emoji the verifier shows.
//   requestVerification {userId, roomId?} -> {flowId, phase}   requestOwnUserVerification() for our own
//       user (to-device, all our devices), else requestVerificationDM(userId, roomId).
//   waitForVerificationRequest {from?, timeoutMs?} -> {flowId, otherUserId, otherDeviceId, roomId,
//       isSelfVerification, phase}   the first incoming request (CryptoEvent.VerificationRequestReceived)
//       not yet returned by this command.
//   acceptVerification {flowId} -> {phase}                   request.accept() (sends ready)
//   startSas {flowId, timeoutMs?} -> {phase}                 waits for Ready, then startVerification("m.sas.v1")
//   waitForSas {flowId, timeoutMs?} -> {emoji: [[symbol, name] x7], decimal: [a, b, c]}
//   confirmSas {flowId} -> {}                                "they match" (sas.confirm())
//   mismatchSas {flowId} -> {}                               "they don't match" (sas.mismatch())
//   cancelVerification {flowId, code?} -> {}                 request.cancel({code})
//   verificationStatus {flowId, waitFor?: "done"|"cancelled"|"finished", timeoutMs?}
//       -> {phase, done, cancellationCode, cancellingUserId, verifyError, otherDeviceId, initiatedByMe}
//       phase is the VerificationPhase name (Requested, Ready, Started, Cancelled, Done); done is true once
//       verifier.verify() resolved.
//   timeRoomKeyBundle {roomId, inviter, timeoutMs?} -> {receiveMs, buildMs|null, bytes, imported}
//       for the benchmark (tests/bench/bench_scale.py): waits for inviter's m.room_key_bundle, downloads
//       the encrypted file, then times Rust crypto's own receiveRoomKeyBundle (decrypt, hash check,
//       parse, import into the store) and buildRoomKeyBundle on the same keys (imported again under
//       another room id, marked shareable). The room is not joined. imported: room keys added.
//   -- what Element sends besides text (each -> {eventId}, once the server accepted it) --
//   sendEvent {roomId, type, content} -> {eventId}   any event, as given (js-sdk encrypts it in an
//       encrypted room, copying m.relates_to into the clear; m.reaction goes unencrypted).
//   reply {roomId, eventId, body, fallback=true, mentions=true}   a reply as Element builds it: with the
//       quoted fallback ("> <@sender> text" + <mx-reply>) unless fallback=false, and m.mentions.
//   edit {roomId, eventId, body}   m.replace: "* body" plus m.new_content.
//   react {roomId, eventId, key}   an m.reaction (m.annotation), unencrypted as js-sdk always sends them.
//   redact {roomId, eventId, reason?}   client.redactEvent.
//   sendThread {roomId, rootId, body}   client.sendMessage with a thread id (js-sdk adds the m.thread
//       relation with is_falling_back and an m.in_reply_to fallback).
//   sendPoll {roomId, question, answers:[...], kind="disclosed"|"undisclosed", maxSelections=1, stable=false}
//       -> {eventId, answerIds:[...]}: unstable = js-sdk's PollStartEvent (org.matrix.msc3381.poll.start, what
//       Element sends); stable = an m.poll.start with the Matrix 1.7 content.
//   votePoll {roomId, pollId, answerIds:[...], stable=false}   PollResponseEvent (or m.poll.response).
//   endPoll {roomId, pollId, stable=false}   PollEndEvent (or m.poll.end).
//   sendLocation {roomId, uri, description?}   ContentHelpers.makeLocationContent as an m.location message.
//   sendSticker {roomId, body, url, mimetype="image/png"}   client.sendStickerMessage.
//   -- how js-sdk itself aggregates what it received --
//   timeline {roomId, paginate=true, decryptWaitMs=5000}
//       -> [{eventId, type, sender, body|null, msgtype|null, encrypted, decrypted, redacted, redactedBy|null,
//            redactionReason|null, replacingEventId|null, replyEventId|null, threadRootId|null, isThreadRoot,
//            relation (wire m.relates_to)|null, reactions:{key:[senders]}, pollStart|null}] oldest first: the
//          live timeline (back-paginated to the start once), with js-sdk's own edit (getContent() is the
//          replacement's m.new_content), redaction, reply and thread views, and reactions from
//          room.relations. Events that are relations themselves are listed too (js-sdk keeps them).
//   quit -> {} then exit(0)

import crypto from "node:crypto";
import fs from "node:fs";
import readline from "node:readline";
import util from "node:util";

// ---------------------------------------------------------------------------------------------
// 1. Logging: must be set up before the SDK is imported, and stdout is reserved for the protocol.
const NAME = process.env.JSPEER_NAME || "peer";
const LEVELS = { trace: 0, debug: 1, log: 1, info: 2, warn: 3, error: 4 };
const minLevel = LEVELS[(process.env.JSPEER_LOG_LEVEL || "debug").toLowerCase()] ?? 1;
const logFd = process.env.JSPEER_LOG_FILE ? fs.openSync(process.env.JSPEER_LOG_FILE, "a") : 2;

function writeLog(level, args) {
    if ((LEVELS[level] ?? 1) < minLevel) return;
    const line = `${new Date().toISOString()} ${NAME} ${level.toUpperCase()} ${util.format(...args)}\n`;
    try {
        fs.writeSync(logFd, line);
    } catch {
        /* nothing sensible to do */
    }
}
for (const level of ["trace", "debug", "log", "info", "warn", "error"]) {
    console[level] = (...args) => writeLog(level, args);
}
const plog = (...args) => writeLog("info", ["[peer]", ...args]);

// 2. Node 20: js-sdk 43 declares Node >= 22 and uses Promise.withResolvers; without it sync dies quietly.
if (typeof Promise.withResolvers !== "function") {
    Object.defineProperty(Promise, "withResolvers", {
        configurable: true,
        writable: true,
        value: function withResolvers() {
            let resolve, reject;
            const promise = new this((res, rej) => {
                resolve = res;
                reject = rej;
            });
            return { promise, resolve, reject };
        },
    });
}

process.on("unhandledRejection", (reason) => writeLog("error", ["[peer] unhandled rejection:", reason]));
process.on("uncaughtException", (err) => writeLog("error", ["[peer] uncaught exception:", err]));

// 3. Now the SDK (dynamic imports so the two steps above happen first).
const sdk = await import("matrix-js-sdk");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
const wasm = await import("@matrix-org/matrix-sdk-crypto-wasm");
const { ClientEvent, SyncState, EventType, KnownMembership } = sdk;
const { CrossSigningKey, EventShieldColour, EventShieldReason, DecryptionFailureCode } = cryptoApi;
const { CryptoEvent, VerificationPhase, VerificationRequestEvent, VerifierEvent } = cryptoApi;

const DEFAULT_TIMEOUT_MS = Number(process.env.JSPEER_CMD_TIMEOUT_MS || 60000);

// ---------------------------------------------------------------------------------------------
// State of this peer
let client = null;
let password = null;
const secretStorageKeys = new Map(); // keyId -> Uint8Array private key
const toDeviceLog = [];
const verifications = new Map(); // flowId -> {request, verifier, sas, done, verifyError, incoming, returned}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function need(args, ...names) {
    for (const n of names) {
        if (args[n] === undefined || args[n] === null) throw new Error(`missing argument '${n}'`);
    }
}

function requireClient() {
    if (!client) throw new Error("not logged in (call login first)");
    return client;
}

function requireCrypto() {
    const c = requireClient().getCrypto();
    if (!c) throw new Error("crypto is not initialised");
    return c;
}

/** Poll `fn` until it returns a truthy value or the deadline passes. */
async function pollUntil(fn, timeoutMs, what, intervalMs = 100) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(intervalMs);
    }
}

function getRoomOrThrow(roomId) {
    const room = requireClient().getRoom(roomId);
    if (!room) throw new Error(`room ${roomId} is not known to this client`);
    return room;
}

/** Ask the server for fresh device/cross-signing keys of `userId` (a /keys/query), bypassing caches. */
async function refreshKeys(userId) {
    const c = requireCrypto();
    // Reaches into RustCrypto internals on purpose: there is no public "force key query" API, and a
    // user we do not share a room with is otherwise never refreshed after the first download.
    const olm = c.olmMachine;
    const processor = c.outgoingRequestProcessor;
    if (olm?.queryKeysForUsers && processor?.makeOutgoingRequest) {
        const req = olm.queryKeysForUsers([new wasm.UserId(userId)]);
        await processor.makeOutgoingRequest(req);
    } else {
        await c.getUserDeviceInfo([userId], true);
    }
}

function enumName(enumObj, value) {
    if (value === null || value === undefined) return null;
    return enumObj[value] ?? String(value);
}

/** The JSON summary of a timeline event that `messages` and `decryptRawEvent` return. */
async function describeEvent(ev) {
    const failed = ev.isDecryptionFailure();
    const encrypted = ev.isEncrypted();
    const decrypted = encrypted && !failed && !!ev.getClearContent();
    let shieldColour = null;
    let shieldReason = null;
    if (decrypted) {
        const info = await requireCrypto().getEncryptionInfoForEvent(ev);
        if (info) {
            shieldColour = enumName(EventShieldColour, info.shieldColour);
            shieldReason = enumName(EventShieldReason, info.shieldReason);
        }
    }
    const reason = ev.decryptionFailureReason;
    return {
        eventId: ev.getId(),
        sender: ev.getSender(),
        ts: ev.getTs(),
        type: ev.getType(),
        encrypted,
        body: failed || (encrypted && !decrypted) ? null : (ev.getContent().body ?? null),
        msgtype: ev.getContent().msgtype ?? null,
        decrypted,
        decryptionFailureReason: reason ?? null,
        failureMessage: failed ? (ev.getContent().body ?? null) : null,
        isWithheld:
            reason === DecryptionFailureCode.MEGOLM_KEY_WITHHELD ||
            reason === DecryptionFailureCode.MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE,
        forwardingUser: ev.getKeyForwardingUser() ?? null,
        shieldColour,
        shieldReason,
        sessionId: ev.getWireContent().session_id ?? null,
    };
}

/** Start following a verification request: keep its verifier's emoji, accept its start. */
function trackVerification(request, incoming) {
    const flowId = request.transactionId;
    let rec = verifications.get(flowId);
    if (rec) return rec;
    rec = { request, verifier: null, sas: null, done: false, verifyError: null, incoming, returned: false };
    verifications.set(flowId, rec);
    const attach = () => {
        const verifier = request.verifier;
        if (!verifier || rec.verifier === verifier) return;
        rec.verifier = verifier;
        rec.sas = verifier.getShowSasCallbacks();
        verifier.on(VerifierEvent.ShowSas, (sas) => {
            rec.sas = sas;
        });
        verifier.verify().then(
            () => {
                rec.done = true;
            },
            (e) => {
                rec.verifyError = e?.message ?? String(e);
            },
        );
    };
    request.on(VerificationRequestEvent.Change, attach);
    attach();
    plog(`tracking verification ${flowId} with ${request.otherUserId} (incoming=${incoming})`);
    return rec;
}

function verificationRecord(flowId) {
    const rec = verifications.get(flowId);
    if (!rec) throw new Error(`no verification ${flowId} is known to this peer`);
    return rec;
}

// ---------------------------------------------------------------------------------------------
// Commands
const commands = {
    async login(args) {
        need(args, "homeserver", "userId", "password");
        if (client) throw new Error("already logged in");
        const t0 = Date.now();
        const tmp = sdk.createClient({ baseUrl: args.homeserver });
        const res = await tmp.loginRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: args.userId },
            password: args.password,
            device_id: args.deviceId,
            initial_device_display_name: args.deviceDisplayName ?? `js-sdk peer ${NAME}`,
        });
        tmp.stopClient();
        const cl = sdk.createClient({
            baseUrl: args.homeserver,
            userId: res.user_id,
            deviceId: res.device_id,
            accessToken: res.access_token,
            cryptoCallbacks: {
                // 4S keys are only ever the ones this peer created (bootstrapSecretStorage).
                getSecretStorageKey: async ({ keys }) => {
                    for (const keyId of Object.keys(keys)) {
                        const k = secretStorageKeys.get(keyId);
                        if (k) return [keyId, k];
                    }
                    return null;
                },
                cacheSecretStorageKey: (keyId, _keyInfo, key) => {
                    secretStorageKeys.set(keyId, key);
                },
            },
        });
        cl.on(CryptoEvent.VerificationRequestReceived, (request) => trackVerification(request, true));
        cl.on(ClientEvent.ReceivedToDeviceMessage, ({ message, encryptionInfo }) => {
            const entry = {
                type: message.type,
                sender: message.sender,
                content: message.content,
                encrypted: !!encryptionInfo,
                senderDevice: encryptionInfo?.senderDevice ?? null,
                senderVerified: encryptionInfo?.senderVerified ?? null,
                ts: Date.now(),
            };
            toDeviceLog.push(entry);
            plog(`to-device received: ${JSON.stringify(entry)}`);
        });
        try {
            await cl.initRustCrypto({ useIndexedDB: false });
            const firstSync = new Promise((resolve) => {
                const onSync = (state, _prev, data) => {
                    if (state === SyncState.Prepared || state === SyncState.Syncing) {
                        cl.off(ClientEvent.Sync, onSync);
                        resolve();
                    } else if (state === SyncState.Error) {
                        plog("sync error while waiting for the first sync:", data?.error);
                    }
                };
                cl.on(ClientEvent.Sync, onSync);
            });
            await cl.startClient({ initialSyncLimit: 50 });
            await withTimeout(firstSync, args.syncTimeoutMs ?? 30000, "first sync");
        } catch (e) {
            cl.stopClient();
            throw e;
        }
        client = cl;
        password = args.password;
        return { userId: res.user_id, deviceId: res.device_id, startupMs: Date.now() - t0 };
    },

    async bootstrapCrossSigning(args) {
        const c = requireCrypto();
        const pw = args.password ?? password;
        const userId = client.getSafeUserId();
        await c.bootstrapCrossSigning({
            setupNewCrossSigning: true,
            authUploadDeviceSigningKeys: async (makeRequest) => {
                try {
                    return await makeRequest(null);
                } catch (e) {
                    const session = e?.data?.session;
                    if (e?.httpStatus !== 401 || !session) throw e;
                    plog("cross-signing upload asked for UIA; answering with m.login.password");
                    return await makeRequest({
                        type: "m.login.password",
                        identifier: { type: "m.id.user", user: userId },
                        password: pw,
                        session,
                    });
                }
            },
        });
        return {
            crossSigningReady: await c.isCrossSigningReady(),
            masterKey: await c.getCrossSigningKeyId(CrossSigningKey.Master),
        };
    },

    async bootstrapSecretStorage(args) {
        const c = requireCrypto();
        let generated = null;
        await c.bootstrapSecretStorage({
            setupNewSecretStorage: true,
            setupNewKeyBackup: !!args.setupKeyBackup,
            createSecretStorageKey: async () => {
                generated = await c.createRecoveryKeyFromPassphrase();
                return generated;
            },
        });
        if (!generated) throw new Error("createSecretStorageKey was not called");
        const keyId = await client.secretStorage.getDefaultKeyId();
        if (keyId) secretStorageKeys.set(keyId, generated.privateKey);
        let keyBackupVersion = null;
        if (args.setupKeyBackup) {
            keyBackupVersion = (await c.getActiveSessionBackupVersion()) ?? null;
        }
        return { recoveryKey: generated.encodedPrivateKey, keyId, keyBackupVersion };
    },

    async keyBackupInfo() {
        const c = requireCrypto();
        const check = await c.checkKeyBackupAndEnable();
        const info = check?.backupInfo ?? null;
        if (!info) {
            return { version: null, algorithm: null, count: null, publicKey: null, trusted: null,
                     matchesDecryptionKey: null, activeVersion: await c.getActiveSessionBackupVersion() };
        }
        const trust = await c.isKeyBackupTrusted(info);
        return {
            version: info.version ?? null,
            algorithm: info.algorithm,
            count: info.count ?? null,
            publicKey: info.auth_data?.public_key ?? null,
            trusted: trust.trusted,
            matchesDecryptionKey: trust.matchesDecryptionKey,
            activeVersion: await c.getActiveSessionBackupVersion(),
        };
    },

    async restoreKeyBackup(args) {
        need(args, "recoveryKey");
        const c = requireCrypto();
        const keyId = await client.secretStorage.getDefaultKeyId();
        if (!keyId) throw new Error("the account has no default secret storage key");
        secretStorageKeys.set(keyId, cryptoApi.decodeRecoveryKey(args.recoveryKey));
        await c.loadSessionBackupPrivateKeyFromSecretStorage();
        await c.checkKeyBackupAndEnable();
        const t0 = Date.now();
        const result = await c.restoreKeyBackup();
        return { total: result.total, imported: result.imported, ms: Date.now() - t0 };
    },

    async crossSigningStatus() {
        const c = requireCrypto();
        const dev = await c.getDeviceVerificationStatus(client.getSafeUserId(), client.getDeviceId());
        return {
            ready: await c.isCrossSigningReady(),
            ownDeviceVerified: !!dev?.crossSigningVerified,
            masterKey: await c.getCrossSigningKeyId(CrossSigningKey.Master),
            status: await c.getCrossSigningStatus(),
        };
    },

    async deviceInfo(args) {
        need(args, "userId");
        const c = requireCrypto();
        if (args.refresh !== false) await refreshKeys(args.userId);
        const map = await c.getUserDeviceInfo([args.userId], true);
        const devices = [...(map.get(args.userId)?.keys() ?? [])];
        const out = { devices, exists: false, signedByOwner: false, crossSigningVerified: false, localVerified: false };
        if (args.deviceId === undefined) return out;
        out.exists = devices.includes(args.deviceId);
        const st = await c.getDeviceVerificationStatus(args.userId, args.deviceId);
        if (st) {
            out.signedByOwner = st.signedByOwner;
            out.crossSigningVerified = st.crossSigningVerified;
            out.localVerified = st.localVerified;
        }
        return out;
    },

    async userIdentity(args) {
        need(args, "userId");
        const c = requireCrypto();
        if (args.refresh !== false) await refreshKeys(args.userId);
        const st = await c.getUserVerificationStatus(args.userId);
        let masterKey = null;
        if (args.userId === client.getSafeUserId()) {
            masterKey = await c.getCrossSigningKeyId(CrossSigningKey.Master);
        } else {
            const identity = await c.olmMachine?.getIdentity(new wasm.UserId(args.userId));
            if (identity) {
                try {
                    const mk = JSON.parse(identity.masterKey);
                    masterKey = Object.values(mk.keys ?? {})[0] ?? null;
                } finally {
                    identity.free?.();
                }
            }
        }
        const known = masterKey !== null || (await c.userHasCrossSigningKeys(args.userId, false));
        return {
            known,
            masterKey,
            verified: st.isVerified(),
            crossSigningVerified: st.isCrossSigningVerified(),
            wasVerified: st.wasCrossSigningVerified(),
            needsUserApproval: !!st.needsUserApproval,
        };
    },

    async createRoom(args) {
        const c = requireClient();
        const encrypted = args.encrypted !== false;
        const initialState = [
            {
                type: "m.room.history_visibility",
                state_key: "",
                content: { history_visibility: args.historyVisibility ?? "shared" },
            },
        ];
        if (encrypted) {
            initialState.push({
                type: "m.room.encryption",
                state_key: "",
                content: { algorithm: "m.megolm.v1.aes-sha2" },
            });
        }
        const { room_id: roomId } = await c.createRoom({
            name: args.name,
            preset: "private_chat",
            invite: args.invite ?? [],
            initial_state: initialState,
        });
        // Sending before the room (and its encryption state) has been synced would go out unencrypted
        // or fail, so wait for both.
        await pollUntil(
            async () =>
                c.getRoom(roomId)?.getMyMembership() === KnownMembership.Join &&
                (!encrypted || (await c.getCrypto().isEncryptionEnabledInRoom(roomId))),
            30000,
            `room ${roomId} to be synced`,
        );
        return { roomId };
    },

    async setHistoryVisibility(args) {
        need(args, "roomId", "visibility");
        const c = requireClient();
        const { event_id: eventId } = await c.sendStateEvent(
            args.roomId,
            EventType.RoomHistoryVisibility,
            { history_visibility: args.visibility },
            "",
        );
        await pollUntil(
            () => c.getRoom(args.roomId)?.getHistoryVisibility() === args.visibility,
            30000,
            `history visibility ${args.visibility} to show in ${args.roomId}`,
        );
        return { eventId };
    },

    async send(args) {
        need(args, "roomId", "body");
        const c = requireClient();
        const room = getRoomOrThrow(args.roomId);
        // js-sdk decides to encrypt from what crypto knows of the room; never let a message slip out
        // in the clear because the encryption state has not reached crypto yet.
        if (room.hasEncryptionStateEvent()) {
            await pollUntil(() => c.getCrypto().isEncryptionEnabledInRoom(args.roomId), 10000, "crypto to know the room is encrypted");
        }
        const { event_id: eventId } = await c.sendEvent(args.roomId, EventType.RoomMessage, {
            msgtype: args.msgtype ?? "m.text",
            body: args.body,
        });
        return { eventId };
    },

    async createDm(args) {
        // What Element does for "Start chat": an encrypted trusted_private_chat room created with
        // is_direct (the invitee's member event says so), then the room listed in m.direct.
        need(args, "userId");
        const c = requireClient();
        const { room_id: roomId } = await c.createRoom({
            preset: "trusted_private_chat",
            is_direct: true,
            invite: [args.userId],
            initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
        });
        const direct = { ...(c.getAccountData(EventType.Direct)?.getContent() ?? {}) };
        direct[args.userId] = [...(direct[args.userId] ?? []), roomId];
        await c.setAccountData(EventType.Direct, direct);
        await pollUntil(
            async () =>
                c.getRoom(roomId)?.getMyMembership() === KnownMembership.Join &&
                (await c.getCrypto().isEncryptionEnabledInRoom(roomId)),
            30000,
            `room ${roomId} to be synced`,
        );
        return { roomId };
    },

    async directRooms(args) {
        // m.direct as this client has it (waiting for a room to appear in it, if asked).
        const c = requireClient();
        const read = () => c.getAccountData(EventType.Direct)?.getContent() ?? {};
        if (args.waitForRoom) {
            await pollUntil(
                () => Object.values(read()).some((rooms) => Array.isArray(rooms) && rooms.includes(args.waitForRoom)),
                args.timeoutMs ?? 20000,
                `${args.waitForRoom} in m.direct`,
            );
        }
        return { direct: read() };
    },

    async dmInviter(args) {
        // Who the invite says this is a direct chat with (js-sdk reads is_direct on our member event).
        need(args, "roomId");
        const c = requireClient();
        await pollUntil(() => c.getRoom(args.roomId)?.getMyMembership() === KnownMembership.Invite,
            args.timeoutMs ?? 20000, `an invite to ${args.roomId}`);
        return { inviter: c.getRoom(args.roomId).getDMInviter() ?? null };
    },

    async markDirect(args) {
        // What Element does after joining a DM invite: list the room in m.direct.
        need(args, "roomId", "userId");
        const c = requireClient();
        const direct = { ...(c.getAccountData(EventType.Direct)?.getContent() ?? {}) };
        direct[args.userId] = [...(direct[args.userId] ?? []), args.roomId];
        await c.setAccountData(EventType.Direct, direct);
        return {};
    },

    async sendFile(args) {
        // A file as Element sends it: in an encrypted room AES-256-CTR with a random key and IV
        // (EncryptedFile v2, SHA-256 of the ciphertext), uploaded as application/octet-stream;
        // in a plain room uploaded as it is. Written here with node:crypto, independently of ours.
        need(args, "roomId", "dataB64", "name", "mimetype");
        const c = requireClient();
        const room = getRoomOrThrow(args.roomId);
        const data = Buffer.from(args.dataB64, "base64");
        const encrypted = room.hasEncryptionStateEvent();
        const info = { mimetype: args.mimetype, size: data.length, ...(args.info ?? {}) };
        const content = { msgtype: args.msgtype ?? "m.file", body: args.name, info };
        if (encrypted) {
            const key = crypto.randomBytes(32);
            const iv = Buffer.concat([crypto.randomBytes(8), Buffer.alloc(8)]);
            const cipher = crypto.createCipheriv("aes-256-ctr", key, iv);
            const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
            const { content_uri: url } = await c.uploadContent(ciphertext, { type: "application/octet-stream", includeFilename: false });
            content.file = {
                v: "v2", url,
                key: { kty: "oct", alg: "A256CTR", ext: true, key_ops: ["encrypt", "decrypt"],
                       k: key.toString("base64url") },
                iv: iv.toString("base64").replace(/=+$/, ""),
                hashes: { sha256: crypto.createHash("sha256").update(ciphertext).digest("base64").replace(/=+$/, "") },
            };
            await pollUntil(() => c.getCrypto().isEncryptionEnabledInRoom(args.roomId), 10000, "crypto to know the room is encrypted");
        } else {
            const { content_uri: url } = await c.uploadContent(data, { type: args.mimetype, name: args.name });
            content.url = url;
        }
        const { event_id: eventId } = await c.sendEvent(args.roomId, EventType.RoomMessage, content);
        return { eventId };
    },

    async downloadFile(args) {
        // The file of a message, fetched through authenticated media, its hash checked and
        // decrypted when it is encrypted -> {dataB64, name, mimetype, msgtype, info}.
        need(args, "roomId", "eventId");
        const c = requireClient();
        const room = getRoomOrThrow(args.roomId);
        const event = await pollUntil(() => room.findEventById(args.eventId), args.timeoutMs ?? 20000, `event ${args.eventId}`);
        await c.decryptEventIfNeeded(event);
        const content = event.getContent();
        const file = content.file;
        const url = file?.url ?? content.url;
        if (!url?.startsWith("mxc://")) throw new Error("the message has no mxc URL");
        const [server, mediaId] = url.slice(6).split("/");
        const resp = await fetch(`${c.baseUrl}/_matrix/client/v1/media/download/${encodeURIComponent(server)}/${encodeURIComponent(mediaId)}`,
            { headers: { Authorization: `Bearer ${c.getAccessToken()}` } });
        if (!resp.ok) throw new Error(`download failed: HTTP ${resp.status}`);
        let data = Buffer.from(await resp.arrayBuffer());
        if (file) {
            const digest = crypto.createHash("sha256").update(data).digest("base64").replace(/=+$/, "");
            if (digest !== file.hashes.sha256.replace(/=+$/, "")) throw new Error("SHA-256 mismatch");
            const key = Buffer.from(file.key.k, "base64url");
            const iv = Buffer.from(file.iv, "base64");
            const decipher = crypto.createDecipheriv("aes-256-ctr", key, iv);
            data = Buffer.concat([decipher.update(data), decipher.final()]);
        }
        return { dataB64: data.toString("base64"), name: content.body, mimetype: content.info?.mimetype ?? null,
                 msgtype: content.msgtype, info: content.info ?? null, encrypted: !!file };
    },

    async pushActions(args) {
        // What js-sdk's push processor says of an event (decrypted first): notify? highlight?
        need(args, "roomId", "eventId");
        const c = requireClient();
        const room = getRoomOrThrow(args.roomId);
        const event = await pollUntil(() => room.findEventById(args.eventId), args.timeoutMs ?? 20000, `event ${args.eventId}`);
        await c.decryptEventIfNeeded(event);
        const actions = c.getPushActionsForEvent(event, true);
        return { notify: !!actions?.notify, highlight: !!actions?.tweaks?.highlight };
    },

    async typing(args) {
        need(args, "roomId", "typing");
        await requireClient().sendTyping(args.roomId, !!args.typing, args.timeoutMs ?? 30000);
        return {};
    },

    async typingUsers(args) {
        // Members this client sees typing in the room (waiting until `waitFor` is among them, or
        // until nobody types when waitFor is null and waitForNone is set).
        need(args, "roomId");
        const c = requireClient();
        const read = () => getRoomOrThrow(args.roomId).getMembers().filter((m) => m.typing).map((m) => m.userId);
        if (args.waitFor) {
            await pollUntil(() => read().includes(args.waitFor), args.timeoutMs ?? 20000, `${args.waitFor} typing`);
        } else if (args.waitForNone) {
            await pollUntil(() => read().length === 0, args.timeoutMs ?? 20000, "nobody typing");
        }
        return { users: read() };
    },

    async sendReceipt(args) {
        // A read receipt (and the read marker) on one event, as Element sends when you read a room.
        need(args, "roomId", "eventId");
        const c = requireClient();
        const room = getRoomOrThrow(args.roomId);
        const event = await pollUntil(() => room.findEventById(args.eventId), 20000, `event ${args.eventId}`);
        await c.setRoomReadMarkers(args.roomId, args.eventId, event);
        return {};
    },

    async readUpTo(args) {
        // Who this client sees as having read up to (at least) the event.
        need(args, "roomId", "eventId");
        const room = getRoomOrThrow(args.roomId);
        const read = () => {
            const event = room.findEventById(args.eventId);
            return event ? room.getUsersReadUpTo(event) : [];
        };
        if (args.waitFor) {
            await pollUntil(() => read().includes(args.waitFor), args.timeoutMs ?? 20000, `${args.waitFor} to read ${args.eventId}`);
        }
        return { users: read() };
    },

    async invite(args) {
        need(args, "roomId", "userId");
        const c = requireClient();
        if (args.shareHistory === false) {
            // A bare /invite, bypassing client.invite's history sharing.
            const body = { user_id: args.userId };
            if (args.reason) body.reason = args.reason;
            await c.http.authedRequest(sdk.Method.Post, `/rooms/${encodeURIComponent(args.roomId)}/invite`, undefined, body);
        } else {
            await c.invite(args.roomId, args.userId, args.reason ? { reason: args.reason } : {});
        }
        return {};
    },

    async waitForInvite(args) {
        need(args, "roomId");
        const c = requireClient();
        await pollUntil(
            () => c.getRoom(args.roomId)?.getMyMembership() === KnownMembership.Invite,
            args.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            `an invite to ${args.roomId}`,
        );
        const member = c.getRoom(args.roomId).getMember(c.getSafeUserId());
        return { inviter: member?.events.member?.getSender() ?? null };
    },

    async join(args) {
        need(args, "roomId");
        const c = requireClient();
        // joinRoom only looks for a key bundle if it has already synced our invite (it needs the inviter).
        const member = c.getRoom(args.roomId)?.getMember(c.getSafeUserId());
        const inviter = member?.membership === KnownMembership.Invite ? (member.events.member?.getSender() ?? null) : null;
        if (!inviter) plog(`join ${args.roomId}: no synced invite, so no key bundle will be accepted`);
        await c.joinRoom(args.roomId);
        await pollUntil(
            () => c.getRoom(args.roomId)?.getMyMembership() === KnownMembership.Join,
            30000,
            `our join of ${args.roomId} to come down sync`,
        );
        return { inviter };
    },

    async leave(args) {
        need(args, "roomId");
        await requireClient().leave(args.roomId);
        return {};
    },

    async waitForMembership(args) {
        need(args, "roomId", "userId");
        const c = requireClient();
        const want = args.membership ?? "join";
        await pollUntil(
            () => c.getRoom(args.roomId)?.getMember(args.userId)?.membership === want,
            args.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            `${args.userId} to be '${want}' in ${args.roomId}`,
        );
        return { membership: want };
    },

    async forceDiscardSession(args) {
        need(args, "roomId");
        await requireCrypto().forceDiscardSession(args.roomId);
        return {};
    },

    async messages(args) {
        need(args, "roomId");
        const c = requireClient();
        const room = getRoomOrThrow(args.roomId);
        const timeoutMs = args.timeoutMs ?? 20000;
        const deadline = Date.now() + timeoutMs;
        const wanted = args.waitForBodies ?? [];

        // Back-paginate to the start of the room (bounded). Redone if a gappy sync replaces the live timeline.
        let paginatedTimeline = null;
        const paginateToStart = async () => {
            const timeline = room.getLiveTimeline();
            if (timeline === paginatedTimeline) return;
            paginatedTimeline = timeline;
            try {
                for (let i = 0; i < 100; i++) {
                    if (!(await c.paginateEventTimeline(timeline, { backwards: true, limit: 100 }))) break;
                }
            } catch (e) {
                plog(`back-pagination in ${args.roomId} failed:`, e);
            }
        };
        await paginateToStart();

        const collect = () =>
            room
                .getLiveTimeline()
                .getEvents()
                .filter(
                    (ev) =>
                        ev.getType() === EventType.RoomMessage ||
                        (ev.getWireType() === EventType.RoomMessageEncrypted && ev.getType() === ev.getWireType()),
                );

        const settle = async (events) => {
            for (const ev of events) {
                const p = ev.getDecryptionPromise();
                if (p) await withTimeout(p.catch(() => {}), Math.max(1, deadline - Date.now()), "decryption").catch(() => {});
            }
        };

        let events = collect();
        await settle(events);
        let lastRetry = Date.now();
        while (wanted.length) {
            const have = new Set(
                events.filter((ev) => ev.isEncrypted() ? !ev.isDecryptionFailure() && ev.getClearContent() : true)
                    .map((ev) => ev.getContent().body),
            );
            if (wanted.every((b) => have.has(b)) || Date.now() >= deadline) break;
            await sleep(200);
            if (args.retryFailed !== false && Date.now() - lastRetry > 2000) {
                lastRetry = Date.now();
                for (const ev of events) {
                    if (ev.isDecryptionFailure() && !ev.isBeingDecrypted()) {
                        ev.attemptDecryption(c.getCrypto(), { isRetry: true }).catch(() => {});
                    }
                }
            }
            await paginateToStart();
            events = collect();
            await settle(events);
        }

        const out = [];
        for (const ev of events) out.push(await describeEvent(ev));
        return args.limit ? out.slice(-args.limit) : out;
    },

    async rawEvent(args) {
        need(args, "roomId", "eventId");
        const c = requireClient();
        const ev = getRoomOrThrow(args.roomId).findEventById(args.eventId);
        if (ev) return ev.event;
        return await c.fetchRoomEvent(args.roomId, args.eventId);
    },

    async decryptRawEvent(args) {
        need(args, "event");
        const c = requireClient();
        const ev = new sdk.MatrixEvent({ ...args.event, room_id: args.event.room_id ?? args.roomId });
        await c.decryptEventIfNeeded(ev);
        return await describeEvent(ev);
    },

    async exportRoomKeys() {
        return { keys: JSON.parse(await requireCrypto().exportRoomKeysAsJson()) };
    },

    async importRoomKeys(args) {
        need(args, "keys");
        const keys = typeof args.keys === "string" ? args.keys : JSON.stringify(args.keys);
        await requireCrypto().importRoomKeysAsJson(keys);
        return {};
    },

    async whoami() {
        const c = requireClient();
        const keys = await requireCrypto().getOwnDeviceKeys();
        return { userId: c.getSafeUserId(), deviceId: c.getDeviceId(), curve25519: keys.curve25519, ed25519: keys.ed25519 };
    },

    async roomEncryptionInfo(args) {
        need(args, "roomId");
        const c = requireClient();
        const room = getRoomOrThrow(args.roomId);
        const members = {};
        for (const m of room.getMembers()) members[m.userId] = m.membership;
        return {
            encrypted: await requireCrypto().isEncryptionEnabledInRoom(args.roomId),
            historyVisibility: room.getHistoryVisibility(),
            myMembership: room.getMyMembership(),
            members,
        };
    },

    async toDeviceLog(args) {
        const types = args.types;
        const out = toDeviceLog.filter((e) => !types || types.includes(e.type));
        if (args.clear) toDeviceLog.length = 0;
        return out;
    },

    async waitForToDevice(args) {
        need(args, "type");
        const types = Array.isArray(args.type) ? args.type : [args.type];
        const match = (e) =>
            types.includes(e.type) &&
            (!args.sender || e.sender === args.sender) &&
            (!args.roomId || e.content?.room_id === args.roomId);
        return await pollUntil(
            () => toDeviceLog.find(match),
            args.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            `a to-device ${types.join("|")}`,
        );
    },

    async waitForRoomKeyBundle(args) {
        need(args, "roomId");
        return await commands.waitForToDevice({
            ...args,
            type: ["m.room_key_bundle", "io.element.msc4268.room_key_bundle"],
        });
    },

    async sendCraftedBundle(args) {
        // What a hostile inviter does: encrypt and upload ANY bundle file, then announce it to
        // userId's devices with Rust crypto's own m.room_key_bundle sender (Olm-encrypted, with
        // sender_device_keys), exactly as client.invite would for a real bundle.
        need(args, "roomId", "userId", "plaintext");
        const c = requireClient();
        const crypto = requireCrypto();
        const olm = crypto.olmMachine;
        const processor = crypto.outgoingRequestProcessor;
        const encrypted = wasm.Attachment.encrypt(new TextEncoder().encode(args.plaintext));
        const upload = await c.uploadContent(encrypted.encryptedData);
        const url = args.url ?? upload.content_uri;
        await refreshKeys(args.userId);
        await crypto.keyClaimManager.ensureSessionsForUsers(console, [new wasm.UserId(args.userId)]);
        const requests = await olm.shareRoomKeyBundleData(
            new wasm.UserId(args.userId), new wasm.RoomId(args.roomId), url, encrypted.mediaEncryptionInfo,
            wasm.CollectStrategy.identityBasedStrategy(),
        );
        for (const req of requests) await processor.makeOutgoingRequest(req);
        return { url, requests: requests.length };
    },

    async sendOlmToDevice(args) {
        need(args, "eventType", "userId", "deviceId", "content");
        const c = requireClient();
        await refreshKeys(args.userId);
        const batch = await requireCrypto().encryptToDeviceMessages(
            args.eventType, [{ userId: args.userId, deviceId: args.deviceId }], args.content,
        );
        if (batch.batch.length) await c.queueToDevice(batch);
        return { sent: batch.batch.length };
    },

    async sessionBackupPrivateKey() {
        const c = requireCrypto();
        const key = await c.getSessionBackupPrivateKey();
        return {
            key: key ? Buffer.from(key).toString("base64") : null,
            version: (await c.getActiveSessionBackupVersion()) ?? null,
        };
    },

    async requestVerification(args) {
        need(args, "userId");
        const c = requireCrypto();
        const request =
            args.userId === client.getSafeUserId()
                ? await c.requestOwnUserVerification()
                : await c.requestVerificationDM(args.userId, args.roomId);
        trackVerification(request, false);
        return { flowId: request.transactionId, phase: enumName(VerificationPhase, request.phase) };
    },

    async waitForVerificationRequest(args) {
        const rec = await pollUntil(
            () =>
                [...verifications.values()].find(
                    (r) => r.incoming && !r.returned && (!args.from || r.request.otherUserId === args.from),
                ),
            args.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            `a verification request${args.from ? " from " + args.from : ""}`,
        );
        rec.returned = true;
        const r = rec.request;
        return {
            flowId: r.transactionId,
            otherUserId: r.otherUserId,
            otherDeviceId: r.otherDeviceId ?? null,
            roomId: r.roomId ?? null,
            isSelfVerification: r.isSelfVerification,
            phase: enumName(VerificationPhase, r.phase),
        };
    },

    async acceptVerification(args) {
        need(args, "flowId");
        const rec = verificationRecord(args.flowId);
        await rec.request.accept();
        return { phase: enumName(VerificationPhase, rec.request.phase) };
    },

    async startSas(args) {
        need(args, "flowId");
        const rec = verificationRecord(args.flowId);
        await pollUntil(
            () => rec.request.phase >= VerificationPhase.Ready,
            args.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            `verification ${args.flowId} to be ready`,
        );
        if (!rec.request.verifier) await rec.request.startVerification("m.sas.v1");
        trackVerification(rec.request, rec.incoming);
        return { phase: enumName(VerificationPhase, rec.request.phase) };
    },

    async waitForSas(args) {
        need(args, "flowId");
        const rec = verificationRecord(args.flowId);
        await pollUntil(
            () => rec.sas || rec.request.phase === VerificationPhase.Cancelled,
            args.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            `the emoji of verification ${args.flowId}`,
        );
        if (!rec.sas) throw new Error(`verification ${args.flowId} was cancelled (${rec.request.cancellationCode})`);
        return { emoji: rec.sas.sas.emoji ?? null, decimal: rec.sas.sas.decimal ?? null };
    },

    async confirmSas(args) {
        need(args, "flowId");
        const rec = verificationRecord(args.flowId);
        if (!rec.sas) throw new Error(`verification ${args.flowId} shows no emoji yet`);
        await rec.sas.confirm();
        return {};
    },

    async mismatchSas(args) {
        need(args, "flowId");
        const rec = verificationRecord(args.flowId);
        if (!rec.sas) throw new Error(`verification ${args.flowId} shows no emoji yet`);
        rec.sas.mismatch();
        return {};
    },

    async cancelVerification(args) {
        need(args, "flowId");
        await verificationRecord(args.flowId).request.cancel(args.code ? { code: args.code } : undefined);
        return {};
    },

    async verificationStatus(args) {
        need(args, "flowId");
        const rec = verificationRecord(args.flowId);
        const finished = () => rec.done || rec.request.phase === VerificationPhase.Cancelled;
        const want = {
            done: () => rec.done,
            cancelled: () => rec.request.phase === VerificationPhase.Cancelled,
            finished,
        }[args.waitFor];
        if (want) await pollUntil(want, args.timeoutMs ?? DEFAULT_TIMEOUT_MS, `verification ${args.flowId} ${args.waitFor}`);
        const r = rec.request;
        return {
            phase: enumName(VerificationPhase, r.phase),
            done: rec.done,
            cancellationCode: r.cancellationCode ?? null,
            cancellingUserId: r.cancellingUserId ?? null,
            verifyError: rec.verifyError,
            otherDeviceId: r.otherDeviceId ?? null,
            initiatedByMe: r.initiatedByMe,
        };
    },

    async timeRoomKeyBundle(args) {
        need(args, "roomId", "inviter");
        const c = requireClient();
        const olm = requireCrypto().olmMachine;
        const timeoutMs = args.timeoutMs ?? DEFAULT_TIMEOUT_MS;
        await commands.waitForRoomKeyBundle({ roomId: args.roomId, sender: args.inviter, timeoutMs });
        await refreshKeys(args.inviter); // Rust crypto takes a bundle only from a sender it can trust
        const roomId = new wasm.RoomId(args.roomId);
        const data = await pollUntil(
            () => olm.getReceivedRoomKeyBundleData(roomId, new wasm.UserId(args.inviter)),
            timeoutMs,
            `the stored bundle data of ${args.roomId}`,
        );
        const url = c.mxcUrlToHttp(data.url, undefined, undefined, undefined, false, true, true);
        const resp = await fetch(url, { headers: { Authorization: `Bearer ${c.getAccessToken()}` } });
        if (!resp.ok) throw new Error(`bundle download failed: HTTP ${resp.status}`);
        const bytes = new Uint8Array(await resp.arrayBuffer());
        const before = (await olm.roomKeyCounts()).total;
        const t0 = performance.now();
        await olm.receiveRoomKeyBundle(data, bytes);
        const receiveMs = performance.now() - t0;
        const imported = (await olm.roomKeyCounts()).total - before;
        if (!imported) throw new Error("Rust crypto imported none of the bundle's keys (see the peer's log)");
        // Rust crypto does not mark keys it took from a bundle as shareable (and an import never
        // changes a key it holds), so the build runs on the same keys imported, marked shareable,
        // under another room id (not timed).
        const exported = JSON.parse(await olm.exportRoomKeys((s) => s.roomId.toString() === args.roomId));
        const buildRoom = `!bench-build-${Date.now()}:localhost`;
        for (const key of exported) {
            key.room_id = buildRoom;
            for (const name of ["shared_history", "m.shared_history", "org.matrix.msc3061.shared_history"]) delete key[name];
            key["org.matrix.msc3061.shared_history"] = true;
        }
        await olm.importExportedRoomKeys(JSON.stringify(exported), () => {});
        const t1 = performance.now();
        const built = await olm.buildRoomKeyBundle(new wasm.RoomId(buildRoom));
        const buildMs = built ? performance.now() - t1 : null;
        return { receiveMs, buildMs, bytes: bytes.length, imported, shareable: exported.length };
    },

    // -- what Element sends besides text ---------------------------------------------------------

    async sendEvent(args) {
        need(args, "roomId", "type", "content");
        await waitForRoomCrypto(args.roomId);
        const { event_id: eventId } = await requireClient().sendEvent(args.roomId, args.type, args.content);
        return { eventId };
    },

    async reply(args) {
        need(args, "roomId", "eventId", "body");
        const c = requireClient();
        const target = await findEvent(args.roomId, args.eventId);
        const content = { msgtype: "m.text", body: args.body, "m.relates_to": { "m.in_reply_to": { event_id: args.eventId } } };
        if (args.fallback !== false && target) {
            const quoted = (target.getContent().body ?? "").split("\n");
            content.body = quoted.map((line, i) => (i === 0 ? `> <${target.getSender()}> ${line}` : `> ${line}`)).join("\n") +
                `\n\n${args.body}`;
            content.format = "org.matrix.custom.html";
            content.formatted_body =
                `<mx-reply><blockquote><a href="https://matrix.to/#/${args.roomId}/${args.eventId}">In reply to</a> ` +
                `<a href="https://matrix.to/#/${target.getSender()}">${target.getSender()}</a><br>` +
                `${escapeHtml(target.getContent().body ?? "")}</blockquote></mx-reply>${escapeHtml(args.body)}`;
        }
        if (args.mentions !== false && target) content["m.mentions"] = { user_ids: [target.getSender()] };
        await waitForRoomCrypto(args.roomId);
        const { event_id: eventId } = await c.sendEvent(args.roomId, EventType.RoomMessage, content);
        return { eventId };
    },

    async edit(args) {
        need(args, "roomId", "eventId", "body");
        await waitForRoomCrypto(args.roomId);
        const { event_id: eventId } = await requireClient().sendEvent(args.roomId, EventType.RoomMessage, {
            msgtype: "m.text",
            body: `* ${args.body}`,
            "m.new_content": { msgtype: "m.text", body: args.body },
            "m.relates_to": { rel_type: "m.replace", event_id: args.eventId },
        });
        return { eventId };
    },

    async react(args) {
        need(args, "roomId", "eventId", "key");
        const { event_id: eventId } = await requireClient().sendEvent(args.roomId, EventType.Reaction, {
            "m.relates_to": { rel_type: "m.annotation", event_id: args.eventId, key: args.key },
        });
        return { eventId };
    },

    async redact(args) {
        need(args, "roomId", "eventId");
        const opts = args.reason ? { reason: args.reason } : undefined;
        const { event_id: eventId } = await requireClient().redactEvent(args.roomId, args.eventId, undefined, opts);
        return { eventId };
    },

    async sendThread(args) {
        need(args, "roomId", "rootId", "body");
        await waitForRoomCrypto(args.roomId);
        const { event_id: eventId } = await requireClient().sendMessage(args.roomId, args.rootId, {
            msgtype: "m.text",
            body: args.body,
        });
        return { eventId };
    },

    async sendPoll(args) {
        need(args, "roomId", "question", "answers");
        await waitForRoomCrypto(args.roomId);
        const c = requireClient();
        const kind = args.kind ?? "disclosed";
        if (args.stable) {
            const answerIds = args.answers.map((_, i) => `answer-${i}`);
            const content = {
                "m.poll": {
                    kind: `m.${kind}`,
                    max_selections: args.maxSelections ?? 1,
                    question: { "m.text": [{ body: args.question }] },
                    answers: args.answers.map((a, i) => ({ "m.id": answerIds[i], "m.text": [{ body: a }] })),
                },
                "m.text": [{ body: `${args.question}\n${args.answers.map((a, i) => `${i + 1}. ${a}`).join("\n")}` }],
            };
            const { event_id: eventId } = await c.sendEvent(args.roomId, "m.poll.start", content);
            return { eventId, answerIds };
        }
        const polls = await import("matrix-js-sdk/lib/@types/polls.js");
        const { PollStartEvent } = await import("matrix-js-sdk/lib/extensible_events_v1/PollStartEvent.js");
        const kindValue = kind === "undisclosed" ? polls.M_POLL_KIND_UNDISCLOSED : polls.M_POLL_KIND_DISCLOSED;
        const poll = PollStartEvent.from(args.question, args.answers, kindValue, args.maxSelections ?? 1).serialize();
        const { event_id: eventId } = await c.sendEvent(args.roomId, poll.type, poll.content);
        const inner = poll.content[polls.M_POLL_START.name];
        return { eventId, answerIds: inner.answers.map((a) => a.id) };
    },

    async votePoll(args) {
        need(args, "roomId", "pollId", "answerIds");
        await waitForRoomCrypto(args.roomId);
        const c = requireClient();
        if (args.stable) {
            const { event_id: eventId } = await c.sendEvent(args.roomId, "m.poll.response", {
                "m.selections": args.answerIds,
                "m.relates_to": { rel_type: "m.reference", event_id: args.pollId },
            });
            return { eventId };
        }
        const { PollResponseEvent } = await import("matrix-js-sdk/lib/extensible_events_v1/PollResponseEvent.js");
        const vote = PollResponseEvent.from(args.answerIds, args.pollId).serialize();
        const { event_id: eventId } = await c.sendEvent(args.roomId, vote.type, vote.content);
        return { eventId };
    },

    async endPoll(args) {
        need(args, "roomId", "pollId");
        await waitForRoomCrypto(args.roomId);
        const c = requireClient();
        if (args.stable) {
            const { event_id: eventId } = await c.sendEvent(args.roomId, "m.poll.end", {
                "m.text": [{ body: "The poll has ended." }],
                "m.relates_to": { rel_type: "m.reference", event_id: args.pollId },
            });
            return { eventId };
        }
        const { PollEndEvent } = await import("matrix-js-sdk/lib/extensible_events_v1/PollEndEvent.js");
        const end = PollEndEvent.from(args.pollId, "The poll has ended.").serialize();
        const { event_id: eventId } = await c.sendEvent(args.roomId, end.type, end.content);
        return { eventId };
    },

    async sendLocation(args) {
        need(args, "roomId", "uri");
        await waitForRoomCrypto(args.roomId);
        const content = sdk.ContentHelpers.makeLocationContent(undefined, args.uri, Date.now(), args.description);
        const { event_id: eventId } = await requireClient().sendMessage(args.roomId, content);
        return { eventId };
    },

    async sendSticker(args) {
        need(args, "roomId", "body", "url");
        await waitForRoomCrypto(args.roomId);
        const { event_id: eventId } = await requireClient().sendStickerMessage(
            args.roomId, args.url, { mimetype: args.mimetype ?? "image/png", w: 64, h: 64, size: 1234 }, args.body,
        );
        return { eventId };
    },

    // -- how js-sdk aggregates what it received -------------------------------------------------

    async timeline(args) {
        need(args, "roomId");
        const c = requireClient();
        const room = getRoomOrThrow(args.roomId);
        const timeline = room.getLiveTimeline();
        if (args.paginate !== false && !paginated.has(timeline)) {
            paginated.add(timeline);
            for (let i = 0; i < 100; i++) {
                if (!(await c.paginateEventTimeline(timeline, { backwards: true, limit: 100 }))) break;
            }
        }
        const events = room.getLiveTimeline().getEvents();
        const wait = args.decryptWaitMs ?? 5000;
        for (const ev of events) {
            const p = ev.getDecryptionPromise();
            if (p) await withTimeout(p.catch(() => {}), wait, "decryption").catch(() => {});
        }
        return events.map((ev) => {
            const annotations = room.relations
                .getChildEventsForEvent(ev.getId(), "m.annotation", EventType.Reaction)
                ?.getSortedAnnotationsByKey() ?? [];
            const reactions = {};
            for (const [key, set] of annotations) {
                reactions[key] = [...set].filter((r) => !r.isRedacted()).map((r) => r.getSender()).sort();
                if (!reactions[key].length) delete reactions[key];
            }
            const because = ev.getUnsigned().redacted_because;
            const content = ev.getContent();
            return {
                eventId: ev.getId(),
                type: ev.getType(),
                sender: ev.getSender(),
                body: typeof content.body === "string" ? content.body : null,
                msgtype: content.msgtype ?? null,
                encrypted: ev.isEncrypted(),
                decrypted: ev.isEncrypted() && !ev.isDecryptionFailure(),
                redacted: ev.isRedacted(),
                redactedBy: because?.sender ?? null,
                redactionReason: because?.content?.reason ?? null,
                replacingEventId: ev.replacingEventId() ?? null,
                replyEventId: ev.replyEventId ?? null,
                threadRootId: ev.threadRootId ?? null,
                isThreadRoot: ev.isThreadRoot,
                relation: ev.getWireContent()["m.relates_to"] ?? null,
                reactions,
            };
        });
    },

    async quit() {
        return {};
    },
};

const paginated = new WeakSet();

function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The event from the room's timeline, or fetched from the server. */
async function findEvent(roomId, eventId) {
    const c = requireClient();
    const found = getRoomOrThrow(roomId).findEventById(eventId);
    if (found) {
        await found.getDecryptionPromise()?.catch(() => {});
        return found;
    }
    try {
        const raw = await c.fetchRoomEvent(roomId, eventId);
        const ev = new sdk.MatrixEvent({ ...raw, room_id: roomId });
        await c.decryptEventIfNeeded(ev);
        return ev;
    } catch (e) {
        plog(`could not fetch ${eventId}:`, e);
        return null;
    }
}

/** In an encrypted room, wait until crypto knows it is (or the event would go out in the clear). */
async function waitForRoomCrypto(roomId) {
    const c = requireClient();
    const room = getRoomOrThrow(roomId);
    if (room.hasEncryptionStateEvent()) {
        await pollUntil(() => c.getCrypto().isEncryptionEnabledInRoom(roomId), 10000, "crypto to know the room is encrypted");
    }
}

// ---------------------------------------------------------------------------------------------
// Protocol plumbing

function withTimeout(promise, ms, what) {
    let timer;
    return Promise.race([
        promise,
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
        }),
    ]).finally(() => clearTimeout(timer));
}

function send(obj) {
    return new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + "\n", resolve));
}

let exiting = false;
async function shutdown(code) {
    if (exiting) return;
    exiting = true;
    plog(`shutting down (${code})`);
    try {
        client?.stopClient();
    } catch (e) {
        plog("stopClient failed:", e);
    }
    // stopClient() leaves timers and wasm handles alive: Node would not exit by itself.
    process.exit(code);
}

async function handle(line) {
    let req;
    try {
        req = JSON.parse(line);
    } catch (e) {
        await send({ id: null, ok: false, error: `bad JSON request: ${e.message}` });
        return;
    }
    const { id = null, cmd, args = {} } = req;
    const fn = Object.hasOwn(commands, cmd) ? commands[cmd] : null;
    if (!fn) {
        await send({ id, ok: false, error: `unknown command '${cmd}'` });
        return;
    }
    // Wait commands take their own timeoutMs; the overall guard is a little longer so that they
    // report their own (more specific) error first.
    const limit = (args.timeoutMs ?? DEFAULT_TIMEOUT_MS) + (args.timeoutMs ? 5000 : 0);
    const t0 = Date.now();
    plog(`-> ${id} ${cmd} ${JSON.stringify(args, (k, v) => (k === "password" ? "***" : v)).slice(0, 500)}`);
    try {
        const result = await withTimeout(Promise.resolve().then(() => fn(args)), limit, `command ${cmd}`);
        plog(`<- ${id} ${cmd} ok in ${Date.now() - t0} ms`);
        await send({ id, ok: true, result: result ?? null });
    } catch (e) {
        writeLog("error", [`[peer] <- ${id} ${cmd} failed in ${Date.now() - t0} ms:`, e]);
        const resp = { id, ok: false, error: e?.message ?? String(e) };
        if (e?.errcode) resp.errcode = e.errcode;
        if (e?.httpStatus) resp.httpStatus = e.httpStatus;
        await send(resp);
    }
    if (cmd === "quit") await shutdown(0);
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
    if (line.trim()) void handle(line);
});
rl.on("close", () => void shutdown(0));
plog(`ready (node ${process.version}, pid ${process.pid})`);
