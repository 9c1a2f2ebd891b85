// The single DynamoDB table every cloudtable table lives in, keyed as
// lambda/store/schema.ts lays items out: a regional table for one region (the
// default, and what existing deployments have), or a global table with a
// replica in each further region (multi-Region eventual consistency; see
// docs/store.md, "Several regions", for how readers never see half a generation).

import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { PK, SK } from '../lambda/store/schema.js';

export interface StoreTableProps {
  /** RETAIN unless told otherwise: mail routing data outlives any one stack. */
  removalPolicy?: RemovalPolicy;
  /** On unless told otherwise: a delete-table call fails until it is turned off. */
  deletionProtection?: boolean;
}

export interface GlobalStoreTableProps extends StoreTableProps {
  /**
   * A fixed name: the readers of the other regions are in stacks of their
   * own, deployed before this one (docs in cloudtable-app.ts), and find
   * their replica by this name.
   */
  tableName: string;
  /** Regions of the replicas, the home region (the stack's) excluded. */
  replicaRegions: string[];
}

const KEYS = {
  partitionKey: { name: PK, type: AttributeType.STRING },
  sortKey: { name: SK, type: AttributeType.STRING },
};

export function createStoreTable(scope: Construct, id: string, props: StoreTableProps = {}): Table {
  return new Table(scope, id, {
    ...KEYS,
    // Lookups come in bursts behind a cache; on-demand costs nothing idle.
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: props.deletionProtection ?? true,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
}

/** The same table as a DynamoDB global table: on demand, PITR and deletion protection in every replica. */
export function createGlobalStoreTable(scope: Construct, id: string, props: GlobalStoreTableProps): TableV2 {
  return new TableV2(scope, id, {
    ...KEYS,
    tableName: props.tableName,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: props.deletionProtection ?? true,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    replicas: props.replicaRegions.map((region) => ({ region })),
  });
}
