/**
 * Resume data, as `cancelByProducingResumeData()` makes it: the parts a cancelled download
 * kept, moved under a token of their own, and what they are a prefix of. A new task made from
 * it takes the parts back and continues from them.
 */
import { URLError } from '../common/errors.js';
import type { ResumeDataRecord, TaskRecord } from '../common/schema.js';
import { PART_SIZE, partKeys, resumeKey } from '../common/cacheKeys.js';
import { upgradeResponse } from './responseRecord.js';
import { copyParts, deleteKeys } from './store/parts.js';
import * as valid from './validate.js';

declare const self: ServiceWorkerGlobalScope;

/** Moves a stopped task's parts under a new resume token and describes them. */
export async function keepForResume(task: TaskRecord): Promise<string> {
  const token = crypto.randomUUID();
  const from = partKeys(task);
  const copied = await copyParts(
    from,
    from.map((_, part) => resumeKey(token, part)),
  );
  if (!copied) throw new URLError('cannotWriteToFile', 'A part of the download is gone from storage');
  const data: ResumeDataRecord = {
    format: 'bgdl-resume-data/1',
    origin: self.location.origin,
    token,
    request: task.originalRequest,
    response: task.response,
    validator: task.validator!,
    parts: task.parts,
    countOfBytesReceived: task.countOfBytesReceived,
    countOfBytesExpectedToReceive: task.countOfBytesExpectedToReceive,
  };
  return JSON.stringify(data);
}

/** Resume data as a record, checked; throws `cannotDecodeRawData` for data that is not ours. */
function parse(resumeData: string): ResumeDataRecord & { countOfBytesReceived: number } {
  const invalid = (why: string) => new URLError('cannotDecodeRawData', `The resume data cannot be used: ${why}`);
  let data: ResumeDataRecord;
  try {
    data = JSON.parse(resumeData) as ResumeDataRecord;
  } catch {
    throw invalid('it is not resume data from cancelByProducingResumeData()');
  }
  if (data?.format !== 'bgdl-resume-data/1') throw invalid('it is not resume data from cancelByProducingResumeData()');
  if (data.origin !== self.location.origin) throw invalid(`it was made by another origin (${valid.quote(data.origin)})`);
  // Data made when every part but the last was PART_SIZE does not say how many bytes they hold.
  const received = data?.countOfBytesReceived ?? data?.parts * PART_SIZE;
  if (
    typeof data.token !== 'string' ||
    !Number.isSafeInteger(data.parts) ||
    data.parts < 0 ||
    typeof data.validator !== 'string' ||
    !Number.isSafeInteger(received) ||
    received < 0
  ) {
    throw invalid('it is corrupt');
  }
  return { ...data, countOfBytesReceived: received };
}

/**
 * Takes the bytes that resume data kept into a new task; refuses data that is not ours.
 * `sweeping`: the sweep under way, which must not see the parts before their task is stored.
 */
export async function adoptResumeData(task: TaskRecord, resumeData: string, sweeping: Promise<void>): Promise<void> {
  const data = parse(resumeData);
  await sweeping;
  const kept = Array.from({ length: data.parts }, (_, part) => resumeKey(data.token, part));
  // The parts are the task's now, written by none of its transfers: named after the token.
  const partsBy = kept.map(() => `resume-${data.token}`);
  if (!(await copyParts(kept, partKeys({ ...task, parts: data.parts, partsBy })))) {
    throw new URLError('cannotDecodeRawData', 'The resume data cannot be used: the bytes it kept are gone (it was used already, or storage was cleared)');
  }
  await deleteKeys(kept);
  Object.assign(task, {
    originalRequest: valid.request(data.request),
    // Resume data made by an older version keeps the response as that version did.
    response: data.response && upgradeResponse(data.response),
    validator: data.validator,
    parts: data.parts,
    partsBy,
    countOfBytesReceived: data.countOfBytesReceived,
    receivedAtStart: data.countOfBytesReceived,
    countOfBytesExpectedToReceive: data.countOfBytesExpectedToReceive,
  });
}
