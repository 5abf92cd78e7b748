// The AWS SDK's Node 22 notice, once per client, would be most of the tests' output.
require('cdk-local-cloud/quiet-warnings').hideSdkNodeVersionWarning();
