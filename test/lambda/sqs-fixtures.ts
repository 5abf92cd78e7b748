import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { CustomerEvent } from '../../lambda/shared/domain/events';

/** An SQS record as Lambda hands it to a consumer; raw delivery makes the body the event itself. */
export const sqsRecord = (messageId: string, body: string): SQSRecord => ({
  messageId,
  receiptHandle: `receipt-${messageId}`,
  body,
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '1741064767000',
    SenderId: 'AIDAEXAMPLE',
    ApproximateFirstReceiveTimestamp: '1741064767000',
  },
  messageAttributes: {},
  md5OfBody: 'not-checked',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:consumer',
  awsRegion: 'eu-west-1',
});

export const batch = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

export const eventRecord = (event: CustomerEvent): SQSRecord =>
  sqsRecord(`msg-${event.eventId}`, JSON.stringify(event));
